"""``lingo-explain``: what a trained run learned, for every run kind (language models with any
adapter, merged or not; ``cnn``; ``kmer_lr``), runs on one base model loaded once.

    lingo-explain mutagenesis  --run RUN --input seqs.fa --out DIR   # every base x 3 others
    lingo-explain attributions --run RUN --input seqs.fa --out DIR   # integrated gradients
    lingo-explain variants     --run RUN --vcf x.vcf --fasta ref.fa --out DIR
    lingo-explain motifs       --scores DIR/mutagenesis_label1.npz --out DIR2

Modules: ``scorer`` (a run's log-odds), ``scores`` (per-base scores, the ``.npz`` every
subcommand reads or writes), ``mutagenesis``, ``attributions`` (Captum), ``variants`` (pysam),
``motifs`` (modisco-lite, TOMTOM against JASPAR), ``plots`` (heat maps and logos), ``truth``
(checks against a planted motif), ``cli``.
"""
