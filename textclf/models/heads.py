"""The registry of classifier heads.

A head turns the sequence of embedded tokens into one feature vector; the
softmax layer on top is shared by all heads. Heads are looked up by name, so
the CLI's choices, the metadata and the tests all come from `HEADS`; adding a
head is one `register_head` call.

Importing this module does not import Keras: builders import it when called.
Besides the recurrent heads, `cnn` is Kim (2014)'s convolutional sentence
classifier: parallel convolutions of widths 3, 4 and 5 and max over time.
Recurrent layers keep cuDNN-compatible settings (tanh / sigmoid activations,
no recurrent dropout, right-padded masks), so GPU users get the fused kernels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from textclf.errors import ConfigError

POOLINGS = ("last", "max", "mean", "maxmean")


@dataclass(frozen=True)
class HeadSpec:
    """A registered head.

    Attributes:
        name: Registry name (the `--head` value).
        description: One line for `--help`.
        build: `build(embedded, token_ids, *, units, layers, dropout, pooling)`
            returning the feature tensor.
        poolings: The `--pooling` values the head accepts.
    """

    name: str
    description: str
    build: Callable
    poolings: tuple = POOLINGS


HEADS: dict[str, HeadSpec] = {}


def register_head(name, description, poolings=POOLINGS):
    """Decorator adding a head builder to `HEADS` under `name`."""

    def decorator(build):
        if name in HEADS:
            raise ValueError(f"A head named {name!r} is already registered.")
        HEADS[name] = HeadSpec(name=name, description=description, build=build, poolings=tuple(poolings))
        return build

    return decorator


def get_head(name):
    """Returns the `HeadSpec` registered as `name`.

    Raises:
        ConfigError: no such head; the message lists the registered ones.
    """
    try:
        return HEADS[name]
    except KeyError:
        raise ConfigError(
            f"head must be one of {tuple(sorted(HEADS))}. Received: head={name!r}"
        ) from None


def check_pooling(head, pooling):
    """Raises `ConfigError` unless the registered head `head` accepts `pooling`."""
    allowed = get_head(head).poolings
    if pooling not in allowed:
        raise ConfigError(f"pooling must be one of {allowed} with head={head!r}. Received: pooling={pooling!r}")


def head_names(value):
    """The head names in a `--head` value: one registered name, or several joined by commas.

    An ensemble's members take them in turn (member i gets name i modulo their
    number); a single model is the first.

    Raises:
        ConfigError: an empty or unregistered name; the message lists the registered ones.
    """
    names = tuple(part.strip() for part in str(value).split(","))
    for name in names:
        if name not in HEADS:
            raise ConfigError(f"head must be one of {tuple(sorted(HEADS))}, or several of them joined by commas. "
                              f"Received: head={value!r}")
    return names


def _recurrent_layer(kind, units, return_sequences, bidirectional, name):
    import keras

    layer_class, extra = {
        "lstm": (keras.layers.LSTM, {}),
        "gru": (keras.layers.GRU, {"reset_after": True}),  # the cuDNN-compatible GRU variant
    }[kind]
    layer = layer_class(
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        recurrent_dropout=0.0,
        unroll=False,
        use_bias=True,
        return_sequences=return_sequences,
        name=None if bidirectional else name,
        **extra,
    )
    if bidirectional:
        layer = keras.layers.Bidirectional(layer, merge_mode="concat", name=name)
    return layer


def masked_max(sequence, token_ids):
    """Max over time steps that hold a token (padding never wins the max)."""
    import keras

    present = keras.ops.expand_dims(keras.ops.not_equal(token_ids, 0), axis=-1)
    # Padded steps are replaced by a value far below any real activation. Not
    # `sequence + (present - 1) * 1e9`: Keras' TensorFlow `add` turns an addend
    # that squeezes to one axis into `tf.nn.bias_add` over the *last* axis when
    # its length matches (keras-team/keras#20386), so one padded row whose
    # length equals the feature size was masked along the wrong axis.
    return keras.ops.max(keras.ops.where(present, sequence, -1e9), axis=1)


def pool(sequence, token_ids, pooling):
    """Reduces a masked `(batch, time, features)` sequence to `(batch, features)`.

    Args:
        sequence: Recurrent outputs for every step (padding steps masked).
        token_ids: The `(batch, time)` ids; 0 marks padding.
        pooling: One of `POOLINGS` other than "last".

    Returns:
        The pooled tensor.
    """
    import keras

    if pooling == "max":
        return masked_max(sequence, token_ids)
    if pooling == "mean":
        return keras.layers.GlobalAveragePooling1D(name="mean_pool")(sequence)
    if pooling == "maxmean":
        return keras.layers.Concatenate(name="max_mean_pool")(
            [masked_max(sequence, token_ids),
             keras.layers.GlobalAveragePooling1D(name="mean_pool")(sequence)]
        )
    raise ConfigError(f"pooling must be one of {POOLINGS}. Received: pooling={pooling!r}")


def recurrent_stack(embedded, token_ids, *, kind, bidirectional, units, layers, dropout, pooling):
    """`layers` stacked recurrent layers with dropout between them, then pooling."""
    import keras

    x = embedded
    for i in range(layers):
        last = i == layers - 1
        return_sequences = not last or pooling != "last"
        x = _recurrent_layer(kind, units, return_sequences, bidirectional, name=f"recurrent_{i + 1}")(x)
        if not last and dropout > 0:
            x = keras.layers.Dropout(dropout, name=f"recurrent_dropout_{i + 1}")(x)
    if pooling != "last":
        x = pool(x, token_ids, pooling)
    return x


def _register_recurrent(name, kind, bidirectional, description):
    def build(embedded, token_ids, **params):
        return recurrent_stack(embedded, token_ids, kind=kind, bidirectional=bidirectional, **params)

    build.__name__ = f"build_{name}"
    register_head(name, description)(build)


_register_recurrent("lstm", "lstm", False, "unidirectional LSTM layers")
_register_recurrent("gru", "gru", False, "unidirectional GRU layers")
_register_recurrent("bilstm", "lstm", True, "bidirectional LSTM layers (forward and backward concatenated)")
_register_recurrent("bigru", "gru", True, "bidirectional GRU layers (forward and backward concatenated)")


CNN_WIDTHS = (3, 4, 5)


@register_head("cnn", f"convolutions of widths {', '.join(map(str, CNN_WIDTHS))} side by side (Kim 2014), "
                      "`units` filters each", poolings=("max", "mean", "maxmean"))
def build_cnn(embedded, token_ids, *, units, layers, dropout, pooling):
    """Kim (2014)'s CNN: for each width, `layers` ReLU convolutions of `units` filters, pooled over time.

    Padded steps are zeroed before each convolution, so a text scores the same
    whatever the padding of its batch (batches are bucketed by length), and
    are left out of the pooling.
    """
    import keras

    present = keras.ops.expand_dims(keras.ops.cast(keras.ops.not_equal(token_ids, 0), embedded.dtype), axis=-1)
    branches = []
    for width in CNN_WIDTHS:
        x = embedded
        for i in range(layers):
            if i > 0 and dropout > 0:
                x = keras.layers.Dropout(dropout, name=f"conv{width}_dropout_{i + 1}")(x)
            x = keras.layers.Conv1D(units, width, padding="same", activation="relu",
                                    name=f"conv{width}_{i + 1}")(x * present)
        if pooling in ("max", "maxmean"):
            branches.append(masked_max(x, token_ids))
        if pooling in ("mean", "maxmean"):
            branches.append(_masked_mean(x, present))
    return keras.layers.Concatenate(name="cnn_features")(branches)


def _masked_mean(sequence, present):
    """Mean over the steps that hold a token (convolution outputs carry no Keras mask)."""
    import keras

    total = keras.ops.sum(sequence * present, axis=1)
    return total / keras.ops.maximum(keras.ops.sum(present, axis=1), 1.0)
