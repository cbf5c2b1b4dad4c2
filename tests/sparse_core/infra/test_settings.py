import math

import pytest

from sparse_core.infra.errors import ConfigError
from sparse_core.infra.settings import config, field_help, setting


@config
class Inner:
    """Inner settings.

    Attributes:
        epochs: training epochs, continued
            on a second line.
        rate: a rate in (0, 1].
    """

    epochs: int = setting(10, ge=1)
    rate: float = setting(0.5, gt=0.0, le=1.0)


@config
class Outer:
    """Outer settings.

    Attributes:
        name: one of a, b.
        widths: hidden widths.
        inner: nested.
    """

    name: str = setting("a", choices=("a", "b"))
    widths: tuple[int, ...] = setting((4, 4), ge=1)
    inner: Inner = setting(factory=Inner)

    def __post_init__(self) -> None:
        if self.name == "b" and self.inner.epochs > 5:
            raise ConfigError("name b needs at most 5 epochs", field="name")


def test_defaults_and_frozen():
    outer = Outer()
    assert outer.inner == Inner(epochs=10, rate=0.5)
    with pytest.raises(AttributeError):
        outer.name = "b"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Inner(epochs=0), r"Inner.epochs must be >= 1, got 0"),
        (lambda: Inner(rate=0.0), r"Inner.rate must be > 0 and <= 1, got 0.0"),
        (lambda: Inner(rate=math.nan), r"Inner.rate must be a finite number"),
        (lambda: Outer(name="c"), r"Outer.name must be one of 'a', 'b'; got 'c'"),
        (lambda: Outer(widths=(4, 0)), r"Outer.widths must be >= 1, got 0"),
        (lambda: Outer(name="b"), r"name b needs at most 5 epochs"),
    ],
)
def test_bounds_choices_and_cross_field_checks_name_the_field(build, message):
    with pytest.raises(ConfigError, match=message) as caught:
        build()
    assert isinstance(caught.value, ValueError)
    assert caught.value.field in ("epochs", "rate", "name", "widths")


def test_help_comes_from_the_docstring_attributes():
    assert field_help(Inner) == {"epochs": "training epochs, continued on a second line.", "rate": "a rate in (0, 1]."}
    assert field_help(Outer)["widths"] == "hidden widths."
