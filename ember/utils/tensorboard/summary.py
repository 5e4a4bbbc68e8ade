"""Builders of TensorBoard ``Summary`` protos: scalars, histograms, images, text, hparams.

Each returns a ``tensorboard.compat.proto.summary_pb2.Summary`` that
``FileWriter.add_summary`` writes as one event.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from tensorboard.compat.proto.histogram_pb2 import HistogramProto
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto
from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

from ._png import encode_png

__all__ = ["scalar", "histogram", "image", "audio", "text", "hparams", "pr_curve", "make_np",
           "default_bins"]


def make_np(x) -> np.ndarray:
    """A NumPy array of a Tensor (detached), array, or Python number."""
    from ..._tensor import Tensor
    if isinstance(x, Tensor):
        return np.array(x.detach()._data)
    if isinstance(x, np.ndarray):
        return x
    if np.isscalar(x):
        return np.array([x])
    if hasattr(x, "numpy"):  # e.g. a torch tensor, for convenience
        return np.asarray(x.detach().cpu().numpy())
    raise NotImplementedError(f"Got {type(x)}, but numpy array or ember tensor are expected.")


def _plugin_metadata(plugin: str, content: bytes = b"") -> SummaryMetadata:
    return SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=plugin,
                                                                  content=content))


def scalar(name: str, value, new_style: bool = False,
           double_precision: bool = False) -> Summary:
    """A scalar summary: ``simple_value`` (classic), or a 0-d tensor for the scalars plugin."""
    arr = make_np(value)
    if arr.squeeze().ndim != 0:
        raise AssertionError("scalar should be 0D")
    number = float(arr.reshape(-1)[0])
    if not new_style:
        return Summary(value=[Summary.Value(tag=name, simple_value=number)])
    if double_precision:
        proto = TensorProto(double_val=[number], dtype="DT_DOUBLE")
    else:
        proto = TensorProto(float_val=[number], dtype="DT_FLOAT")
    return Summary(value=[Summary.Value(tag=name, tensor=proto,
                                        metadata=_plugin_metadata("scalars"))])


def default_bins() -> list:
    """TensorFlow's default histogram edges: +-1e-12 growing by 10% up to 1e20, and 0."""
    positive = []
    v = 1e-12
    while v < 1e20:
        positive.append(v)
        v *= 1.1
    return [-b for b in reversed(positive)] + [0] + positive


def make_histogram(values: np.ndarray, bins, max_bins: int | None = None) -> HistogramProto:
    """Bucket ``values`` and keep only the span of non-empty buckets (plus one empty bucket on
    the left, since TensorBoard records only right edges)."""
    values = values.reshape(-1)
    if values.size == 0:
        raise ValueError("The input has no element.")
    counts, edges = np.histogram(values, bins=bins)
    if max_bins is not None and counts.size > max_bins:
        group = counts.size // max_bins
        pad = -counts.size % group
        counts = np.concatenate([counts, np.zeros(pad, counts.dtype)]).reshape(-1, group)
        counts = counts.sum(axis=1)
        edges = np.concatenate([edges[:-1:group], edges[-1:]])
    nonzero = np.flatnonzero(counts)
    first = int(nonzero[0]) if nonzero.size else counts.size
    last = int(nonzero[-1]) if nonzero.size else 0
    if first > 0:
        kept = counts[first - 1:last + 1]
    else:
        kept = np.concatenate([[0], counts[:last + 1]])
    limits = edges[first:last + 2]
    if kept.size == 0 or limits.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    return HistogramProto(min=values.min(), max=values.max(), num=len(values), sum=values.sum(),
                          sum_squares=values.dot(values), bucket_limit=limits.tolist(),
                          bucket=kept.tolist())


def histogram(name: str, values, bins, max_bins: int | None = None) -> Summary:
    """A histogram summary of ``values`` (any shape) over ``bins`` (edges or a NumPy rule)."""
    hist = make_histogram(make_np(values).astype(float), bins, max_bins)
    return Summary(value=[Summary.Value(tag=name, histo=hist)])


def _grid(images: np.ndarray, ncols: int = 8) -> np.ndarray:
    """Tile ``(N, C, H, W)`` images row-major into one ``(C, H*rows, W*cols)`` canvas."""
    if images.shape[1] == 1:
        images = np.concatenate([images] * 3, axis=1)
    if images.ndim != 4 or images.shape[1] not in (3, 4):
        raise AssertionError("images should have 1, 3 or 4 channels")
    n, c, h, w = images.shape
    cols = min(n, ncols)
    rows = math.ceil(n / cols)
    canvas = np.zeros((c, h * rows, w * cols), dtype=images.dtype)
    for i in range(n):
        y, x = divmod(i, cols)
        canvas[:, y * h:(y + 1) * h, x * w:(x + 1) * w] = images[i]
    return canvas


def _to_hwc(array: np.ndarray, dataformats: str) -> np.ndarray:
    """Rearrange an image (or a batch, tiled into a grid) to ``(H, W, 3 or 4)``."""
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt) or array.ndim != len(fmt):
        raise AssertionError(f"size of input tensor and input format are different. tensor "
                             f"shape: {array.shape}, input_format: {dataformats}")
    if len(fmt) == 4:
        return _grid(array.transpose([fmt.find(c) for c in "NCHW"])).transpose(1, 2, 0)
    if len(fmt) == 3:
        hwc = array.transpose([fmt.find(c) for c in "HWC"])
        return np.concatenate([hwc] * 3, axis=2) if hwc.shape[2] == 1 else hwc
    if len(fmt) == 2:
        return np.stack([array.transpose([fmt.find(c) for c in "HW"])] * 3, axis=2)
    raise AssertionError(f"unsupported dataformats {dataformats!r}")


def image(tag: str, tensor, dataformats: str = "NCHW") -> Summary:
    """An image summary (PNG). Floats are taken to lie in [0, 1]; uint8 in [0, 255]."""
    arr = _to_hwc(make_np(tensor), dataformats)
    scale = 1 if arr.dtype == np.uint8 else 255
    pixels = (arr.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    height, width, channels = pixels.shape
    img = Summary.Image(height=height, width=width, colorspace=channels,
                        encoded_image_string=encode_png(pixels))
    return Summary(value=[Summary.Value(tag=tag, image=img)])


def audio(tag: str, tensor, sample_rate: int = 44100) -> Summary:
    """A mono audio clip (samples in [-1, 1], clipped beyond) as 16-bit PCM WAV."""
    import io
    import wave
    samples = make_np(tensor).squeeze()
    if abs(samples).max() > 1:
        print("warning: audio amplitude out of range, auto clipped.")
        samples = samples.clip(-1, 1)
    if samples.ndim != 1:
        raise AssertionError("input tensor should be 1 dimensional.")
    pcm = (samples * np.iinfo(np.int16).max).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    clip = Summary.Audio(sample_rate=sample_rate, num_channels=1, length_frames=pcm.shape[-1],
                         encoded_audio_string=buf.getvalue(), content_type="audio/wav")
    return Summary(value=[Summary.Value(tag=tag, audio=clip)])


def pr_curve(tag: str, labels, predictions, num_thresholds: int = 127,
             weights=None) -> Summary:
    """A precision-recall curve: rows TP, FP, TN, FN, precision and recall at
    ``num_thresholds`` thresholds evenly spaced over [0, 1] (at most 127)."""
    from tensorboard.plugins.pr_curve.plugin_data_pb2 import PrCurvePluginData
    n = min(num_thresholds, 127)
    labels = make_np(labels).astype(np.float64)
    predictions = make_np(predictions)
    w = 1.0 if weights is None else make_np(weights)
    # Each prediction falls in the bucket of the highest threshold it reaches; counting
    # from the top then gives, per threshold, the examples predicted positive.
    bucket = np.int32(np.floor(predictions * (n - 1)))
    pos, _ = np.histogram(bucket, bins=n, range=(0, n - 1), weights=labels * w)
    neg, _ = np.histogram(bucket, bins=n, range=(0, n - 1), weights=(1.0 - labels) * w)
    tp = np.cumsum(pos[::-1])[::-1]
    fp = np.cumsum(neg[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    data = np.stack((tp, fp, tn, fn, precision, recall))
    meta = _plugin_metadata("pr_curves", PrCurvePluginData(
        version=0, num_thresholds=n).SerializeToString())
    proto = TensorProto(dtype="DT_FLOAT", float_val=data.reshape(-1).tolist(),
                        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=d)
                                                           for d in data.shape]))
    return Summary(value=[Summary.Value(tag=tag, metadata=meta, tensor=proto)])


def text(tag: str, text_string: str) -> Summary:
    """A text-plugin summary (a 1-element string tensor) under ``tag + '/text_summary'``."""
    from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData
    meta = _plugin_metadata("text", TextPluginData(version=0).SerializeToString())
    proto = TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf_8")],
                        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=meta,
                                        tensor=proto)])


def hparams(hparam_dict: dict, metric_dict: dict,
            hparam_domain_discrete: dict | None = None) -> tuple:
    """The three hparams-plugin summaries: experiment, session start and session end."""
    from google.protobuf.struct_pb2 import ListValue, Value
    from tensorboard.plugins.hparams import api_pb2
    from tensorboard.plugins.hparams.metadata import (
        EXPERIMENT_TAG,
        PLUGIN_DATA_VERSION,
        PLUGIN_NAME,
        SESSION_END_INFO_TAG,
        SESSION_START_INFO_TAG,
    )
    from tensorboard.plugins.hparams.plugin_data_pb2 import (
        HParamsPluginData,
        SessionEndInfo,
        SessionStartInfo,
    )

    from ..._tensor import Tensor

    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing else")
    for k, v in domains.items():
        if (k not in hparam_dict or not isinstance(v, list)
                or not all(isinstance(d, type(hparam_dict[k])) for d in v)):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of same "
                            f"type as hparam_dict[{k}].")
    infos = []
    start = SessionStartInfo()
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if isinstance(v, Tensor):
            v = float(make_np(v).reshape(-1)[0])
        # bools count as numbers (they are ints), as in PyTorch.
        if isinstance(v, numbers.Real):
            start.hparams[k].number_value = v
            kind, field = "DATA_TYPE_FLOAT64", "number_value"
        elif isinstance(v, str):
            start.hparams[k].string_value = v
            kind, field = "DATA_TYPE_STRING", "string_value"
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
        domain = None
        if k in domains:
            domain = ListValue(values=[Value(**{field: d}) for d in domains[k]])
        infos.append(api_pb2.HParamInfo(name=k, type=api_pb2.DataType.Value(kind),
                                        domain_discrete=domain))

    def wrap(tag: str, data: HParamsPluginData) -> Summary:
        meta = _plugin_metadata(PLUGIN_NAME, data.SerializeToString())
        return Summary(value=[Summary.Value(tag=tag, metadata=meta)])

    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict]
    exp = HParamsPluginData(experiment=api_pb2.Experiment(hparam_infos=infos,
                                                         metric_infos=metrics),
                            version=PLUGIN_DATA_VERSION)
    ssi = HParamsPluginData(session_start_info=start, version=PLUGIN_DATA_VERSION)
    sei = HParamsPluginData(session_end_info=SessionEndInfo(
        status=api_pb2.Status.Value("STATUS_SUCCESS")), version=PLUGIN_DATA_VERSION)
    return (wrap(EXPERIMENT_TAG, exp), wrap(SESSION_START_INFO_TAG, ssi),
            wrap(SESSION_END_INFO_TAG, sei))
