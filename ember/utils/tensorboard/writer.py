"""``SummaryWriter``: logs scalars, histograms, images, text, graphs and hparams to
TensorBoard event files, through the ``tensorboard`` package's event-file writer."""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime

import numpy as np
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from . import summary as _summary

__all__ = ["FileWriter", "SummaryWriter"]


def _render(figure, close: bool) -> np.ndarray:
    """A matplotlib figure drawn off-screen, as a (3, H, W) uint8 array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    width, height = canvas.get_width_height()
    rgba = np.frombuffer(canvas.buffer_rgba(), dtype=np.uint8).reshape(height, width, 4)
    if close:
        import matplotlib.pyplot as plt
        plt.close(figure)
    return np.ascontiguousarray(rgba[:, :, :3].transpose(2, 0, 1))


class FileWriter:
    """Writes ``Event`` protos to one event file in ``log_dir`` (asynchronously, flushed every
    ``flush_secs`` seconds or when ``max_queue`` events are pending)."""

    def __init__(self, log_dir: str, max_queue: int = 10, flush_secs: int = 120,
                 filename_suffix: str = "") -> None:
        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs, filename_suffix)

    def get_logdir(self) -> str:
        return self.event_writer.get_logdir()

    def add_event(self, event: Event, step: int | None = None,
                  walltime: float | None = None) -> None:
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step: int | None = None,
                    walltime: float | None = None) -> None:
        self.add_event(Event(summary=summary), global_step, walltime)

    def add_graph(self, graph_def, walltime: float | None = None) -> None:
        self.add_event(Event(graph_def=graph_def.SerializeToString()), None, walltime)

    def flush(self) -> None:
        self.event_writer.flush()

    def close(self) -> None:
        self.event_writer.close()

    def reopen(self) -> None:
        self.event_writer.reopen()


class SummaryWriter:
    """Writes entries straight to event files in ``log_dir``, for TensorBoard to read.

    Args:
        log_dir: where to write; default ``runs/CURRENT_DATETIME_HOSTNAME`` + ``comment``.
        comment: suffix of the default ``log_dir`` (ignored when ``log_dir`` is given).
        purge_step: a step from which TensorBoard discards earlier-logged later events
            (after a crash and restart).
        max_queue: pending events before a forced flush.
        flush_secs: how often pending events are flushed to disk.
        filename_suffix: appended to every event file's name.

    Example::

        writer = SummaryWriter("runs/exp1")
        for step in range(100):
            writer.add_scalar("loss", 1 / (step + 1), step)
        writer.close()
    """

    def __init__(self, log_dir: str | None = None, comment: str = "",
                 purge_step: int | None = None, max_queue: int = 10, flush_secs: int = 120,
                 filename_suffix: str = "") -> None:
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", stamp + "_" + socket.gethostname() + comment)
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer: FileWriter | None = None
        self._projector_config = None
        self.all_writers: dict[str, FileWriter] | None = None
        self._get_file_writer()
        self.default_bins = _summary.default_bins()

    def _get_file_writer(self) -> FileWriter:
        """The main writer, (re)created if needed; ``purge_step`` is written once, first."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs,
                                          self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                step = self.purge_step
                self.file_writer.add_event(Event(step=step, file_version="brain.Event:2"))
                self.file_writer.add_event(
                    Event(step=step, session_log=SessionLog(status=SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self) -> str:
        """The directory event files are written to."""
        return self.log_dir

    def add_scalar(self, tag: str, scalar_value, global_step: int | None = None,
                   walltime: float | None = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        """Log one number (a Python number or a one-element tensor) under ``tag``."""
        summary = _summary.scalar(tag, scalar_value, new_style, double_precision)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict,
                    global_step: int | None = None, walltime: float | None = None) -> None:
        """Log several numbers in one chart: each goes to the run ``log_dir/main_tag_key``
        under the tag ``main_tag``."""
        walltime = time.time() if walltime is None else walltime
        base = self._get_file_writer().get_logdir()
        for key, value in tag_scalar_dict.items():
            path = os.path.join(base, main_tag.replace("/", "_") + "_" + key)
            writer = self.all_writers.get(path)
            if writer is None:
                writer = FileWriter(path, self.max_queue, self.flush_secs, self.filename_suffix)
                self.all_writers[path] = writer
            writer.add_summary(_summary.scalar(main_tag, value), global_step, walltime)

    def add_histogram(self, tag: str, values, global_step: int | None = None,
                      bins="tensorflow", walltime: float | None = None,
                      max_bins: int | None = None) -> None:
        """Log a histogram of ``values``; ``bins`` is ``"tensorflow"`` (TensorFlow's
        exponential buckets), a NumPy rule (``"auto"``, ``"fd"``, ...) or explicit edges."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        summary = _summary.histogram(tag, values, bins, max_bins=max_bins)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_image(self, tag: str, img_tensor, global_step: int | None = None,
                  walltime: float | None = None, dataformats: str = "CHW") -> None:
        """Log an image: float values in [0, 1] or uint8 in [0, 255], laid out as
        ``dataformats`` (``CHW``, ``HWC``, ``HW``; C is 1, 3 or 4)."""
        summary = _summary.image(tag, img_tensor, dataformats=dataformats)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_images(self, tag: str, img_tensor, global_step: int | None = None,
                   walltime: float | None = None, dataformats: str = "NCHW") -> None:
        """Log a batch of images, tiled into one grid image (8 per row)."""
        summary = _summary.image(tag, img_tensor, dataformats=dataformats)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_figure(self, tag: str, figure, global_step: int | None = None, close: bool = True,
                   walltime: float | None = None) -> None:
        """Log a matplotlib figure (or a list of them, as one grid) rendered to an RGB image."""
        if isinstance(figure, (list, tuple)):
            images = np.stack([_render(f, close) for f in figure])
            self.add_images(tag, images, global_step, walltime, dataformats="NCHW")
        else:
            self.add_image(tag, _render(figure, close), global_step, walltime,
                           dataformats="CHW")

    def add_audio(self, tag: str, snd_tensor, global_step: int | None = None,
                  sample_rate: int = 44100, walltime: float | None = None) -> None:
        """Log a mono clip: a 1-d tensor of samples in [-1, 1]."""
        self._get_file_writer().add_summary(_summary.audio(tag, snd_tensor, sample_rate),
                                            global_step, walltime)

    def add_embedding(self, mat, metadata=None, label_img=None, global_step: int | None = None,
                      tag: str = "default", metadata_header=None) -> None:
        """Log points (rows of the 2-d ``mat``) for the embedding projector, with optional
        per-point ``metadata`` (labels, or rows under ``metadata_header``) and ``label_img``
        thumbnails (N, C, H, W)."""
        from tensorboard.plugins.projector.projector_config_pb2 import (
            EmbeddingInfo,
            ProjectorConfig,
        )

        from . import _embedding
        mat = _summary.make_np(mat)
        step = 0 if global_step is None else global_step
        subdir = f"{str(step).zfill(5)}/{_embedding.encode_tag(tag)}"
        logdir = self._get_file_writer().get_logdir()
        path = os.path.join(logdir, subdir)
        if os.path.isdir(path):
            print("warning: Embedding dir exists, did you set global_step for add_embedding()?")
        elif os.path.exists(path):
            raise NotADirectoryError(f"Path: `{path}` exists, but is a file. Cannot proceed.")
        else:
            os.makedirs(path)
        info = EmbeddingInfo(tensor_name=f"{tag}:{str(step).zfill(5)}",
                             tensor_path=os.path.join(subdir, "tensors.tsv"))
        if metadata is not None:
            if mat.shape[0] != len(metadata):
                raise AssertionError("#labels should equal with #data points")
            _embedding.write_metadata(path, metadata, metadata_header)
            info.metadata_path = os.path.join(subdir, "metadata.tsv")
        if label_img is not None:
            if mat.shape[0] != label_img.shape[0]:
                raise AssertionError("#images should equal with #data points")
            _embedding.write_sprite(path, label_img)
            info.sprite.image_path = os.path.join(subdir, "sprite.png")
            info.sprite.single_image_dim.extend([label_img.shape[3], label_img.shape[2]])
        if mat.ndim != 2:
            raise AssertionError("mat should be 2D, where mat.size(0) is the number of data "
                                 "points")
        _embedding.write_tensors(path, mat)
        # The config lists every embedding so far: rewritten whole each time.
        if self._projector_config is None:
            self._projector_config = ProjectorConfig()
        self._projector_config.embeddings.extend([info])
        from google.protobuf import text_format
        with open(os.path.join(logdir, "projector_config.pbtxt"), "wb") as f:
            f.write(text_format.MessageToString(self._projector_config).encode())

    def add_pr_curve(self, tag: str, labels, predictions, global_step: int | None = None,
                     num_thresholds: int = 127, weights=None,
                     walltime: float | None = None) -> None:
        """Log a precision-recall curve of binary ``labels`` against ``predictions`` in
        [0, 1]."""
        summary = _summary.pr_curve(tag, labels, predictions, num_thresholds, weights)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        """Log a (markdown) string for the text dashboard."""
        self._get_file_writer().add_summary(_summary.text(tag, text_string), global_step,
                                            walltime)

    def add_graph(self, model, input_to_model=None, verbose: bool = False,
                  use_strict_trace: bool = True) -> None:
        """Log the graph of ``model(*input_to_model)``, read off ember's autograd graph."""
        from ._graph import graph
        if input_to_model is None:
            inputs = ()
        elif isinstance(input_to_model, (tuple, list)):
            inputs = tuple(input_to_model)
        else:
            inputs = (input_to_model,)
        self._get_file_writer().add_graph(graph(model, inputs, verbose))

    def add_hparams(self, hparam_dict: dict, metric_dict: dict,
                    hparam_domain_discrete: dict | None = None, run_name: str | None = None,
                    global_step: int | None = None) -> None:
        """Log a set of hyperparameters and their metrics for the HPARAMS dashboard, in the
        sub-run ``run_name`` (default: the current time)."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        exp, ssi, sei = _summary.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        if not run_name:
            run_name = str(time.time())
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=logdir) as sub:
            for s in (exp, ssi, sei):
                sub.file_writer.add_summary(s, global_step)
            for key, value in metric_dict.items():
                sub.add_scalar(key, value, global_step)

    def flush(self) -> None:
        """Write pending events of every writer to disk."""
        for writer in (self.all_writers or {}).values():
            writer.flush()

    def close(self) -> None:
        """Flush and close every event file; a later ``add_*`` opens new ones."""
        for writer in (self.all_writers or {}).values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
