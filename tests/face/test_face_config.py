"""The [face] options of issue 18: embedding models with weights, flip; defaults coherent."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gate.config import EmbeddingModel, FaceConfig


def test_default_is_sface_and_dlib_with_equal_weights_and_its_threshold() -> None:
    face = FaceConfig()
    assert [(m.model, m.weight) for m in face.embedding] == [("sface", 0.5), ("dlib_resnet", 0.5)]
    assert face.flip is False and face.threshold == 0.632


@pytest.mark.parametrize(
    "embedding",
    [[], [{"model": "sface"}, {"model": "sface"}], [{"model": "arcface"}], [{"weight": 0}]],
)
def test_unusable_model_lists_are_refused(embedding: list[dict[str, object]]) -> None:
    with pytest.raises(ValidationError):
        FaceConfig(embedding=embedding)  # type: ignore[arg-type]


def test_one_model_alone_is_accepted() -> None:
    face = FaceConfig(embedding=[EmbeddingModel(model="dlib_resnet")], flip=True)
    assert face.embedding[0].weight == 1.0 and face.flip
