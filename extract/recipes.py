"""Named feature recipes: everything that makes a published feature set, as data.

A recipe fixes the backbone, its weights file, the frame selection, the geometry, the pixel convention, the
rate, the optional PCA and the file name, so that `soccerspot extract match.mp4 --out F --features
ResNET_TF2` writes what SoccerNet's DevKit writes (`Features/VideoFeatureExtractor.py`: `FrameCV(FPS=2,
transform="crop")`, Keras `preprocess_input`, Keras `ResNet152(weights="imagenet")` up to `avg_pool`):

- ``ResNET_TF2``: 2048-d, 2 rows per second of video by FrameCV's frame counter (`extract.framecv`).
- ``ResNET_TF2_PCA512``: the same reduced by SoccerNet's `pca_512_TF2.pkl` after subtracting
  `average_512_TF2.pkl` (both in the `Features/` folder of SoccerNet's sn-spotting repository; the
  released heads read these).

Every row also records its frame's presentation time in the sidecar (`timestamps`): FrameCV's rows are at
frames 13, 25, 38... of a 25 fps video, i.e. 0.48 s, 0.96 s, 1.48 s..., not at k / 2 s.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from soccerspot.errors import DataError
from soccerspot.extract.downloads import ensure_file
from soccerspot.extract.extractor import ExtractConfig, Extractor
from soccerspot.models.backbones import create_backbone
from soccerspot.models.backbones.keras_resnet import (
    CAFFE_MEAN, CAFFE_MEANS, CAFFE_STD, KERAS_IMAGENET, WeightsFile, cached_weights_file,
    missing_weights_message, weights_search_paths,
)

SOCCERNET_PCA_SOURCE = ("SoccerNet's sn-spotting repository, Features/pca_512_TF2.pkl and Features/average_512_TF2.pkl "
                        "(https://github.com/SoccerNet/sn-spotting/tree/main/Features)")


@dataclass(frozen=True)
class PixelConvention:
    """What the network's input channels hold, as `normalize_images` applies it to RGB uint8 frames."""

    name: str
    mean: tuple[float, float, float]  # per input channel, in fractions of 255
    std: tuple[float, float, float]
    description: str


# SoccerNet's: OpenCV delivered BGR frames, `preprocess_input` (caffe mode) flipped them to RGB and subtracted
# the *BGR* means, no scaling. The released heads learned on that, so it is reproduced, not corrected.
CAFFE_ON_OPENCV_BGR = PixelConvention(
    name="caffe-on-opencv-bgr", mean=CAFFE_MEAN, std=CAFFE_STD,
    description=f"RGB channel order with the BGR means {CAFFE_MEANS} subtracted, 0..255, no scaling "
                "(Keras preprocess_input 'caffe' applied to frames OpenCV had already delivered as BGR)",
)


@dataclass(frozen=True)
class FeatureRecipe:
    name: str  # the feature file name: <half>_<name>.npy
    backbone: str  # a registered backbone (`models.backbones`)
    weights: WeightsFile  # the published weights file it loads
    sampling: str  # frame selection (`ExtractConfig.sampling`)
    transform: str  # geometry (`extract.transforms`)
    input_size: int
    pixels: PixelConvention
    fps: float
    dim: int  # width of a row
    pca_file: str | None = None  # the PCA file the recipe needs (its average file beside it), None: no PCA
    pca_source: str | None = None
    source: str = ""


RESNET_TF2 = FeatureRecipe(
    name="ResNET_TF2", backbone="keras_resnet152", weights=KERAS_IMAGENET, sampling="framecv",
    transform="imutils-crop", input_size=224, pixels=CAFFE_ON_OPENCV_BGR, fps=2.0, dim=2048,
    source="SoccerNet DevKit Features/VideoFeatureExtractor.py with SoccerNet.DataLoader.FrameCV (pip SoccerNet)",
)
RESNET_TF2_PCA512 = FeatureRecipe(
    name="ResNET_TF2_PCA512", backbone="keras_resnet152", weights=KERAS_IMAGENET, sampling="framecv",
    transform="imutils-crop", input_size=224, pixels=CAFFE_ON_OPENCV_BGR, fps=2.0, dim=512,
    pca_file="pca_512_TF2.pkl", pca_source=SOCCERNET_PCA_SOURCE,
    source="ResNET_TF2, then SoccerNet DevKit Features/ReduceFeaturesPCA.py: pca.transform(features - average)",
)
RECIPES: dict[str, FeatureRecipe] = {recipe.name: recipe for recipe in (RESNET_TF2, RESNET_TF2_PCA512)}


def recipe_names() -> list[str]:
    return list(RECIPES)


def get_recipe(name: str) -> FeatureRecipe:
    if name not in RECIPES:
        raise ValueError(f"unknown feature recipe {name!r}; known: {', '.join(RECIPES)}")
    return RECIPES[name]


def missing_pca_message(recipe: FeatureRecipe) -> str:
    average = recipe.pca_file.replace("pca_", "average_", 1)
    return (f"{recipe.name} needs SoccerNet's PCA: pass --pca {recipe.pca_file} (with {average} beside it); "
            f"get both from {recipe.pca_source}")


def check_pca(recipe: FeatureRecipe, pca_file: str | Path | None) -> None:
    """`DataError` when the recipe needs a PCA file and none is given, or has no PCA and one is."""
    if recipe.pca_file is not None and pca_file is None:
        raise DataError(None, missing_pca_message(recipe))
    if recipe.pca_file is None and pca_file is not None:
        raise DataError(pca_file, f"{recipe.name} has no PCA; use {recipe.name}_PCA512 for SoccerNet's reduced features")


def recipe_settings(recipe: FeatureRecipe) -> dict[str, object]:
    """The `ExtractConfig` fields the recipe fixes, by field name (FrameCV's frame counter decodes with PyAV)."""
    return {"backbone": recipe.backbone, "fps": recipe.fps, "transform": recipe.transform,
            "input_size": recipe.input_size, "sampling": recipe.sampling, "feature_name": recipe.name,
            **({"decoder": "pyav"} if recipe.sampling == "framecv" else {})}


def recipe_disagreements(recipe: FeatureRecipe, settings: dict[str, object]) -> list[tuple[str, object, object]]:
    """(field, the value given, the recipe's) for each of `settings` (`ExtractConfig` field names; a value of
    None is "not given") that the recipe fixes to another value; numbers compare as numbers (2 == 2.0)."""
    fixed = recipe_settings(recipe)
    return [(name, value, fixed[name]) for name, value in settings.items()
            if value is not None and name in fixed and value != fixed[name]]


def recipe_config(recipe: FeatureRecipe, *, weights_file: str | Path, pca_file: str | Path | None = None, **settings):
    """The `ExtractConfig` of `recipe` with a local weights file (and PCA file); `settings` are the machine's
    own choices (device, precision, batch_size, start, duration, progress...)."""
    check_pca(recipe, pca_file)
    return ExtractConfig(weights=str(weights_file), pca=str(pca_file) if pca_file else None,
                         **recipe_settings(recipe), **settings)


def recipe_weights(recipe: FeatureRecipe, weights_file: str | Path | None = None, *, download: bool = True,
                   progress: bool = True) -> Path:
    """The recipe's weights file: `weights_file` if given, else the cached copy, else downloaded (when
    `download`); `DataError` naming the URL and where to put the file otherwise."""
    if weights_file is not None:
        path = Path(weights_file)
        if not path.is_file():
            raise DataError(path, "weights file not found")
        return path
    cached = cached_weights_file(recipe.weights)
    if cached is not None:
        return cached
    if not download:
        raise DataError(weights_search_paths(recipe.weights)[0], missing_weights_message(recipe.weights))

    return ensure_file(recipe.weights, progress=progress)


def build_recipe_extractor(recipe: FeatureRecipe | str, *, weights_file: str | Path | None = None,
                           pca_file: str | Path | None = None, download: bool = True, **settings):
    """An `Extractor` making `recipe`'s features (weights fetched as `recipe_weights` says)."""
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    check_pca(recipe, pca_file)  # before any download
    weights = recipe_weights(recipe, weights_file, download=download, progress=settings.get("progress", True))
    config = recipe_config(recipe, weights_file=weights, pca_file=pca_file, **settings)
    problems = config.problems()
    if problems:
        raise ValueError(f"{problems[0][0]}: {problems[0][1]}")
    backbone = create_backbone(recipe.backbone, weights=str(weights))
    backbone.mean, backbone.std = recipe.pixels.mean, recipe.pixels.std
    extractor = Extractor(config, backbone=backbone)
    if extractor.dim != recipe.dim:
        raise DataError(pca_file, f"{recipe.name} rows are {recipe.dim}-d, this PCA gives {extractor.dim}-d")
    return extractor
