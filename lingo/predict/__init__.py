"""``lingo-predict``: score new DNA with trained runs, many adapters on one base model.

    lingo-predict --run RUN_DIR [--run RUN_DIR ...] --input seqs.fa[.gz] --output out.csv

Input: FASTA (plain or gzipped, multi-line records; the header's first word is the row id) or
CSV/TSV with a ``sequence`` column and an optional ``id`` column (else the row's line number).
Lowercase is upper-cased; anything but A, C, G, T, N, an empty record, or a file that is neither
FASTA nor CSV/TSV ends the call with one line and exit code 2, and no output file.

Output: ``id``; per run ``<task>/p<label>`` (softmax probabilities) and ``<task>/pred`` (their
argmax, the training rule); for a multi-label run (``histone_human``) one sigmoid probability
per label and ``pred`` the labels at p >= 0.5 (indices, ``;``-separated); ``n_windows`` when a
sequence was windowed. Two runs on one task are told apart by their run directory's name
(``<task>:<dir>``).

Runs that share a base model (same model config, seed for random weights, vocabulary, PEFT type
and number of labels) are one group: the base is built once and the adapters are switched.
FMFT runs are full models: one group each. A sequence longer than the task's
``sequence_length`` (metrics.json) is scored in windows of that length, ``--stride`` bp apart
(the last window ends at the sequence's end), and the windows' probabilities are aggregated per
label: ``mean`` (the default: a distribution, so ``pred`` is its argmax as in training) or ``max``
(the strongest window per label; then a row's probabilities need not sum to 1).

Modules: ``inputs`` (FASTA/CSV/TSV readers), ``runs`` (a run directory and its tokenizer),
``groups`` (runs sharing a base model, loaded once), ``scoring`` (windows, probabilities,
aggregation), ``table`` (every run's columns, written as CSV), ``cli`` (the command line).
"""
