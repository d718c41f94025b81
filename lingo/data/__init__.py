"""Reading and validating task splits: GUE CSV folders and the synthetic demo task."""

from lingo.data.task_data import Split, TaskData
from lingo.data.tasks import load_task

__all__ = ["Split", "TaskData", "load_task"]
