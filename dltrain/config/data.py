"""The `data:` section: where the data is, what to predict, how to split it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from dltrain.config.base import Section, keyed_union, tagged_union

Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
SIDE_LIMITS = (4, 4096)
Side = Annotated[int, Field(ge=SIDE_LIMITS[0], le=SIDE_LIMITS[1])]


class _FractionSplit(Section):
    val: Fraction = 0.15
    """Fraction of the samples (or groups) held out for validation. Defaults to 0.15."""
    test: Fraction = 0.15
    """Fraction of the samples (or groups) held out for the final test. Defaults to 0.15."""

    @model_validator(mode="after")
    def _leave_training_data(self):
        if self.val + self.test >= 0.9:
            raise ValueError(
                f"val + test must leave at least 10% of the data for training. "
                f"Received: val={self.val}, test={self.test}"
            )
        return self


class RandomSplit(_FractionSplit):
    """Random split of rows (of groups when `data.group` is set)."""

    method: Literal["random"] = "random"


class StratifiedSplit(_FractionSplit):
    """Split that keeps class proportions in every split (grouped when `data.group` is set)."""

    method: Literal["stratified"] = "stratified"


class GroupSplit(_FractionSplit):
    """Patient-level split: every group (`data.group`) lies in exactly one split."""

    method: Literal["group"] = "group"


class ColumnSplit(Section):
    """A split given by the user in a column of the data."""

    method: Literal["column"] = "column"
    column: str
    """Name of the column that says which split each row belongs to."""
    train: str = "train"
    """Value of the column that marks training rows. Defaults to "train"."""
    val: str = "val"
    """Value of the column that marks validation rows. Defaults to "val"."""
    test: str = "test"
    """Value of the column that marks test rows. Defaults to "test"."""
    val_fraction: Fraction = 0.15
    """When no row has the `val` value (a fixed train/test split), this fraction of the
    training rows (of its groups, with `data.group`) becomes validation, stratified by class
    where the task has classes; the manifest says so. Defaults to 0.15."""


SplitConfig = tagged_union(
    "method", RandomSplit, StratifiedSplit, GroupSplit, ColumnSplit, default="stratified"
)


class MissingConfig(Section):
    """How missing values are filled (statistics fitted on the training split only)."""

    numeric: Literal["median", "mean", "zero"] = "median"
    """Fill value for a missing number. Defaults to "median"."""
    indicator: bool = True
    """Add a 0/1 column per numeric column that has missing values in training. Defaults to True."""


class TabularData(Section):
    """A table (CSV or Parquet): one row per sample, one column per variable."""

    kind: Literal["tabular"] = "tabular"
    path: str
    """The CSV or Parquet file, relative to the working directory or to the config file."""
    format: Literal["auto", "csv", "parquet"] = "auto"
    """File format; "auto" goes by the file extension. Defaults to "auto"."""
    delimiter: str = ","
    """Column separator of a CSV file. Defaults to ","."""
    encoding: str = "utf-8"
    """Text encoding of a CSV file. Defaults to "utf-8"."""
    target: str
    """The column to predict."""
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    """The prediction task; "auto" infers it from the target column. Defaults to "auto"."""
    positive_class: str | None = None
    """For binary tasks, the class that counts as positive (e.g. "malignant"). Defaults to
    the second class in sorted order."""
    unit: str | None = None
    """For regression, the target's unit (e.g. "mmHg", "years"): the report states errors and
    limits of agreement in it. Defaults to None (no unit shown)."""
    group: str | None = None
    """Column identifying the patient (or other unit): all its rows go to the same split."""
    id: str | None = None
    """Column identifying each row; carried into predictions, never used as a feature."""
    features: list[str] | None = None
    """Columns used as inputs. Defaults to every column except target, group, id, split
    column and `exclude`."""
    exclude: list[str] = []
    """Columns never used as inputs."""
    categorical: list[str] = []
    """Columns to treat as categorical even if they look numeric."""
    numeric: list[str] = []
    """Columns that must be numeric: any value that is not a number is an error."""
    missing: MissingConfig = MissingConfig()
    """Missing-value handling."""
    scale: Literal["standard", "minmax", "none"] = "standard"
    """Scaling of numeric columns, fitted on training data. Defaults to "standard"."""
    split: SplitConfig = StratifiedSplit()
    """How samples are divided into train, validation and test."""
    allow_duplicates: bool = False
    """Allow samples with identical input values in different splits (they are still counted
    in the manifest's audit). Defaults to False: such samples are a data error, because the
    model would be tested on samples it was trained on."""
    rare_classes: Literal["error", "merge", "drop"] = "error"
    """What to do with a class too rare to be in train, val and test (fewer than three
    samples, or none left in a split): "error" stops with the classes listed; "merge"
    makes all such classes one class (`other_class`); "drop" leaves their samples out.
    The manifest records each merged or dropped class with its count. Binary and multiclass
    targets only. Defaults to "error"."""
    other_class: str = "other"
    """The class `rare_classes: merge` makes (a class of that name takes the rare ones).
    Defaults to "other"."""

    @model_validator(mode="after")
    def _consistent_columns(self):
        problems = []
        roles = {"target": self.target, "group": self.group, "id": self.id}
        if isinstance(self.split, ColumnSplit):
            roles["split.column"] = self.split.column
        named = [(k, v) for k, v in roles.items() if v is not None]
        for i, (k1, v1) in enumerate(named):
            for k2, v2 in named[i + 1 :]:
                if v1 == v2:
                    problems.append(f"{k1} and {k2} are the same column {v1!r}")
        both = sorted(set(self.categorical) & set(self.numeric))
        if both:
            problems.append(f"columns listed as both categorical and numeric: {both}")
        if self.features is not None:
            for k, v in named:
                if v in self.features:
                    problems.append(f"features must not contain the {k} column {v!r}")
        if isinstance(self.split, GroupSplit) and self.group is None:
            problems.append("split.method 'group' needs data.group (the patient id column)")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class ExternalData(Section):
    """A fixed external test set (e.g. a cohort from another hospital): read like `data.path`,
    never used for fitting or selection, scored once after the internal test split."""

    path: str
    """A file or folder in the same layout and format as `data.path`."""
    labels: str | None = None
    """Its labels CSV, when the layout has one (as `data.labels`)."""


class _FileData(Section):
    """What every non-tabular data kind shares: where the samples and their labels are."""

    path: str
    """A folder (one sub-folder per class, or files listed in `labels`) or a file."""
    labels: str | None = None
    """A CSV with one row per sample: an `id` (file name without folder, or the row index
    of an array file), the target column(s) and optionally the group. Not needed for
    folder-per-class data. Relative to the working directory or to the config file."""
    id: str = "id"
    """Column of `labels` naming each sample. Defaults to "id"."""
    target: str | list[str] | None = "label"
    """Column(s) of `labels` to predict; several 0/1 columns make a multilabel task; null for
    unsupervised models (autoencoder). Defaults to "label"."""
    task: Literal["auto", "binary", "multiclass", "multilabel", "regression"] = "auto"
    """The prediction task; "auto" infers it from the target. Defaults to "auto"."""
    positive_class: str | None = None
    """For binary tasks, the class that counts as positive. Defaults to the second class in
    sorted order."""
    unit: str | None = None
    """For regression, the target's unit (e.g. "ms"): the report states errors in it.
    Defaults to None (no unit shown)."""
    group: str | None = None
    """Column of `labels` identifying the patient: all its samples go to the same split."""
    split: SplitConfig = StratifiedSplit()
    """How samples are divided into train, validation and test."""
    allow_duplicates: bool = False
    """Allow identical samples in different splits (still recorded). Defaults to False."""
    rare_classes: Literal["error", "merge", "drop"] = "error"
    """What to do with a class too rare to be in train, val and test (fewer than three
    samples, or none left in a split): "error" stops with the classes listed; "merge"
    makes all such classes one class (`other_class`); "drop" leaves their samples out.
    The manifest records each merged or dropped class with its count. Binary and multiclass
    targets only. Defaults to "error"."""
    other_class: str = "other"
    """The class `rare_classes: merge` makes (a class of that name takes the rare ones).
    Defaults to "other"."""
    shard_size: Annotated[int, Field(ge=16, le=1_000_000)] = 1024
    """Samples per cache shard; training streams one shard at a time, so memory stays flat
    as the dataset grows. Defaults to 1024."""
    external: ExternalData | None = None
    """An external test set, scored once and reported apart from the internal test split.
    Defaults to None."""
    pseudonymise: bool = True
    """Replace ids read from file headers (a `group` such as DICOM PatientID) by a keyed
    hash (HMAC-SHA256, the key kept outside runs/) before they reach the cache, runs,
    predictions or the report. Defaults to True; false keeps the raw ids."""

    @model_validator(mode="after")
    def _group_for_group_split(self):
        if isinstance(self.split, GroupSplit) and self.group is None:
            raise ValueError("split.method 'group' needs data.group (the patient id column)")
        return self


class Flip(Section):
    flip: Literal["horizontal", "vertical", "horizontal_and_vertical"] = "horizontal"
    """Random flips (images; volumes flip along every axis given). Defaults to "horizontal"."""


class Rotation(Section):
    rotation: Annotated[float, Field(gt=0.0, le=0.5)] = 0.05
    """Maximum random rotation as a fraction of a full turn. Defaults to 0.05."""


class Zoom(Section):
    zoom: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    """Maximum random zoom in or out, as a fraction of the size. Defaults to 0.1."""


class Translation(Section):
    translation: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    """Maximum random shift, as a fraction of the size. Defaults to 0.1."""


class Contrast(Section):
    contrast: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    """Maximum random contrast change. Defaults to 0.1."""


class Brightness(Section):
    brightness: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    """Maximum random brightness change, as a fraction of the value range. Defaults to 0.1."""


class Noise(Section):
    noise: Annotated[float, Field(gt=0.0)] = 0.01
    """Standard deviation of added Gaussian noise, in standardised units. Defaults to 0.01."""


class Scale(Section):
    scale: tuple[Annotated[float, Field(gt=0.0)], Annotated[float, Field(gt=0.0)]] = (0.9, 1.1)
    """Range of a random amplitude factor per sample. Defaults to [0.9, 1.1]."""


class Shift(Section):
    shift: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    """Maximum random circular time shift, as a fraction of the length. Defaults to 0.1."""


class Crop(Section):
    crop: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.9
    """Random crop keeping this fraction of the length, stretched back to full length.
    Defaults to 0.9."""


ImageAugment = keyed_union("augmentation", Flip, Rotation, Zoom, Translation, Contrast, Brightness)
SignalAugment = keyed_union("augmentation", Noise, Scale, Shift, Crop)
VolumeAugment = keyed_union("augmentation", Flip, Noise)


WINDOWS = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "soft_tissue": (40.0, 400.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
    "liver": (60.0, 160.0),
}
"""DICOM window presets (center, width) in Hounsfield units."""


class DicomOptions(Section):
    """How DICOM files are decoded and matched to their labels."""

    window: (
        Literal["file", "none", "lung", "mediastinum", "soft_tissue", "bone", "brain", "liver"]
        | tuple[float, Annotated[float, Field(gt=0.0)]]
    ) = "file"
    """Windowing after the rescale slope/intercept: a preset (CT, in HU), [center, width],
    "file" (the file's own first window, or none if it has none) or "none" (the full range,
    stretched per image). Defaults to "file"."""
    key: Literal["file", "sop", "series", "study"] = "file"
    """What the labels CSV's `id` column holds: the file's path relative to `data.path`
    ("file"; for a series volume, its folder), or the SOPInstanceUID, SeriesInstanceUID or
    StudyInstanceUID from the headers. Defaults to "file"."""


class ImagesData(_FileData):
    """Images (PNG/JPEG, grayscale or RGB): a folder per class, or files listed in `labels`."""

    kind: Literal["images"] = "images"
    size: tuple[Side, Side] | None = None
    """Height and width every image is resized to. Defaults to the images' own size when
    they all share one (28x28 images stay 28x28); images of several sizes need it set."""
    color: Literal["auto", "grayscale", "rgb"] = "auto"
    """Channels: "auto" uses RGB if any training image has colour. Defaults to "auto"."""
    augment: list[ImageAugment] = []
    """Random changes applied to training images only, e.g. [{flip: horizontal},
    {rotation: 0.05}]."""
    dicom: DicomOptions = DicomOptions()
    """DICOM decoding: windowing and what the labels' ids are."""


class Windows(Section):
    """Fixed-length windows cut from each record (a record's label applies to each)."""

    by: Literal["windows"] = "windows"
    seconds: Annotated[float, Field(gt=0.0)]
    """Length of a window in seconds."""
    step: Annotated[float, Field(gt=0.0)] | None = None
    """Seconds from one window's start to the next. Defaults to `seconds` (no overlap)."""


class AnnotationSegments(Section):
    """Segments centred on the record's annotations (WFDB beats, EDF+ epochs), each
    labelled with its annotation: the label fills the target column `data.target`."""

    by: Literal["annotations"] = "annotations"
    annotator: str = "atr"
    """WFDB: the annotation file's extension (record.atr). EDF+: ignored (its own
    annotations). Defaults to "atr"."""
    before: Annotated[float, Field(ge=0.0)] = 0.0
    """Seconds before the annotation's onset. Defaults to 0."""
    after: Annotated[float, Field(gt=0.0)] | None = None
    """Seconds after the onset. Defaults to the annotation's duration (EDF+ epochs)."""
    keep: list[str] | None = None
    """Annotation labels kept (e.g. [N, V]); others are skipped. Defaults to all."""


SegmentsConfig = tagged_union("by", Windows, AnnotationSegments)


class SignalsData(_FileData):
    """1-D series, one or several leads (channels): an NPY/NPZ array with a labels CSV, a CSV
    with one series per row, or one file (.npy/.csv) per record."""

    kind: Literal["signals"] = "signals"
    length: Annotated[int, Field(ge=2)] | None = None
    """Samples per series after `fit`. Defaults to the longest series in the data."""
    fit: Literal["pad", "crop", "resample"] = "pad"
    """How series are brought to `length`: zero-pad/crop the end, crop only (shorter series
    are an error), or resample. Defaults to "pad"."""
    augment: list[SignalAugment] = []
    """Random changes applied to training series only, e.g. [{noise: 0.01}, {scale: [0.9,
    1.1]}]."""
    channels: list[str] | None = None
    """Channels (leads) to keep, by name, in this order (WFDB, EDF). Defaults to all."""
    rate: Annotated[float, Field(gt=0.0)] | None = None
    """Sampling rate (Hz) every record is resampled to (WFDB, EDF). Defaults to None: the
    records' own rate, which must then be the same for every channel and record."""
    segments: SegmentsConfig | None = None
    """Cut each record (WFDB, EDF) into samples: fixed windows, or segments around its
    annotations. Defaults to None: one record, one sample."""


class TextData(_FileData):
    """Text: a CSV column, or a folder per class of .txt files."""

    kind: Literal["text"] = "text"
    text: str = "text"
    """Column of the CSV (`path`) holding the text. Defaults to "text"."""
    max_tokens: Annotated[int, Field(ge=10)] = 20000
    """Vocabulary size (learned from the training split only). Defaults to 20000."""
    max_length: Annotated[int, Field(ge=2)] = 200
    """Tokens per text: longer texts are cut, shorter ones padded. Defaults to 200."""
    ngrams: Annotated[int, Field(ge=1, le=3)] = 1
    """Also count word pairs (2) or triples (3) as tokens. Defaults to 1."""


class VolumesData(_FileData):
    """3-D volumes (scans, or video as frames x height x width): an NPY array (N, D, H, W[, C])
    with a labels CSV, or one .npy file per volume."""

    kind: Literal["volumes"] = "volumes"
    augment: list[VolumeAugment] = []
    """Random changes applied to training volumes only: [{flip: horizontal}, {noise: 0.01}]."""
    spacing: (
        tuple[
            Annotated[float, Field(gt=0.0)],
            Annotated[float, Field(gt=0.0)],
            Annotated[float, Field(gt=0.0)],
        ]
        | None
    ) = None
    """Voxel spacing in mm (depth, height, width) NIfTI volumes and DICOM series are
    resampled to (linear interpolation). Defaults to None: as stored."""
    dicom: DicomOptions = DicomOptions()
    """DICOM decoding: windowing and what the labels' ids are."""


DataConfig = tagged_union("kind", TabularData, ImagesData, SignalsData, TextData, VolumesData)
ARRAY_KINDS = ("images", "signals", "text", "volumes")
