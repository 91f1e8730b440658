"""Enformer's architecture (see :mod:`.config`) as a ``tf.Module`` with seeded random weights.

A cost stand-in: every layer of the published model, with its shapes and its kind of TensorFlow op
(Conv2D for the 1-D convolutions, MatMul / BatchMatMul for dense layers and attention), so that a
forward pass costs what Enformer's costs; the weights are random, so its outputs mean nothing.

Weights are drawn from one NumPy ``PCG64`` generator seeded with ``seed``, in construction order, as
float32 normals scaled by ``1 / sqrt(fan_in)`` (activations stay of order one through the residual
stack, so the outputs are finite): the same seed and config give the same weights on every machine.
BatchNorm runs in inference mode on its moving statistics.  TensorFlow is imported by the functions
that need it (importing this module is cheap).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from seqbench.models.enformer_twin.config import TwinConfig


class _Init:
    """Deterministic weight source: float32 arrays drawn in call order from ``PCG64(seed)``."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def normal(self, shape: tuple[int, ...], scale: float) -> np.ndarray:
        return (self.rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)).astype(np.float32)

    def weight(self, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        return self.normal(shape, 1.0 / math.sqrt(fan_in))


def positional_features(seq_len: int, n_features: int) -> Any:
    """Relative-position features ``float32 [2 * seq_len - 1, n_features]`` of distances ``-(T-1) .. T-1``.

    ``n_features / 6`` basis functions of each kind, on ``|d|``: exponential decays with half-lives spaced
    on a log2 grid from 2^3 to ``seq_len``; central masks ``|d| < 2^k - 1``; gamma densities with means
    spread from ``seq_len / n`` to ``seq_len`` (each kind's maximum scaled to 1).  Then the same features
    times ``sign(d)``, so the model can tell upstream from downstream.
    """
    import tensorflow as tf

    n = n_features // 6
    d = tf.range(-seq_len + 1, seq_len, dtype=tf.float32)
    a = tf.abs(d)[:, None]  # [2T-1, 1]
    t = float(seq_len)
    half_life = tf.pow(2.0, tf.linspace(3.0, math.log2(t), n))[None, :]
    exponential = tf.exp(-math.log(2.0) / half_life * a)
    widths = tf.pow(2.0, tf.range(1, n + 1, dtype=tf.float32))[None, :] - 1.0
    central = tf.cast(widths > a, tf.float32)
    stddev = t / (2 * n)
    mean = tf.linspace(t / n, t, n)[None, :]
    shape_k, rate = (mean / stddev) ** 2, mean / stddev**2
    log_pdf = tf.math.xlogy(shape_k - 1.0, a) - rate * a - (tf.math.lgamma(shape_k) - shape_k * tf.math.log(rate))
    gamma = tf.exp(log_pdf) + 1e-8
    gamma = gamma / tf.reduce_max(gamma)
    sym = tf.concat([exponential, central, gamma], axis=-1)
    return tf.concat([sym, tf.sign(d)[:, None] * sym], axis=-1)


def relative_shift(x: Any) -> Any:
    """``[B, H, T, 2T - 1]`` logits over relative distances -> ``[B, H, T, T]`` over key positions.

    TransformerXL's pad-reshape-slice: after it, ``out[..., i, j] = x[..., i, j - i + T - 1]``, the logit of
    query ``i`` for distance ``j - i`` (distances indexed from ``-(T-1)``).
    """
    import tensorflow as tf

    shape = tf.shape(x)
    b, h, t, r = shape[0], shape[1], shape[2], shape[3]
    x = tf.concat([tf.zeros_like(x[..., :1]), x], axis=-1)  # [B, H, T, 2T]
    x = tf.reshape(x, [b, h, r + 1, t])[:, :, 1:, :]  # [B, H, 2T - 1, T]
    x = tf.reshape(x, [b, h, t, r])
    return x[..., : (r + 1) // 2]


def build_network(config: TwinConfig, seed: int = 0, dtype: str = "float32") -> Any:
    """The ``tf.Module`` ``net`` with ``net(x float32 [B, L, 4]) -> {head: float32 [B, target_length, n]}`` and
    ``net.predict_on_batch`` (a ``tf.function`` over ``[None, L, 4]``), TF-Hub Enformer's call.

    ``dtype = "bfloat16"``: the same draws rounded to bfloat16 weights and bfloat16 arithmetic, with the
    normalisations, the softmaxes and the heads' softplus in float32 (as mixed-precision training keeps
    them); input and output stay float32, so the interface is unchanged."""
    import tensorflow as tf

    c = config
    init = _Init(seed)
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"dtype {dtype!r}: expected float32 or bfloat16")
    dt = tf.bfloat16 if dtype == "bfloat16" else tf.float32

    def var(value: np.ndarray, name: str) -> tf.Variable:
        return tf.Variable(tf.cast(value, dt), trainable=False, name=name)

    def f32(x: tf.Tensor) -> tf.Tensor:
        return tf.cast(x, tf.float32)

    def softmax(x: tf.Tensor, axis: int = -1) -> tf.Tensor:
        return tf.cast(tf.nn.softmax(f32(x), axis=axis), dt)

    def gelu(x: tf.Tensor) -> tf.Tensor:
        return tf.nn.sigmoid(1.702 * x) * x  # Enformer's approximation

    class Conv(tf.Module):
        def __init__(self, c_in: int, c_out: int, width: int, name: str) -> None:
            super().__init__(name=name)
            self.w = var(init.weight((width, c_in, c_out), width * c_in), "w")
            self.b = var(init.normal((c_out,), 0.01), "b")

        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            return tf.nn.conv1d(x, self.w, stride=1, padding="SAME") + self.b

    class BatchNorm(tf.Module):
        def __init__(self, n: int, name: str) -> None:
            super().__init__(name=name)
            self.scale = var(1.0 + init.normal((n,), 0.05), "scale")
            self.offset = var(init.normal((n,), 0.05), "offset")
            self.moving_mean = var(init.normal((n,), 0.1), "moving_mean")
            self.moving_variance = var(1.0 + np.abs(init.normal((n,), 0.1)), "moving_variance")

        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            inv = self.scale * tf.math.rsqrt(self.moving_variance + c.epsilon)
            return (x - self.moving_mean) * inv + self.offset

    class ConvBlock(tf.Module):
        """BN -> GELU -> Conv1D."""

        def __init__(self, c_in: int, c_out: int, width: int, name: str) -> None:
            super().__init__(name=name)
            self.bn = BatchNorm(c_in, "batch_norm")
            self.conv = Conv(c_in, c_out, width, "conv")

        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            return self.conv(gelu(self.bn(x)))

    def dense(x: tf.Tensor, w: tf.Variable, b: tf.Variable | None = None) -> tf.Tensor:
        """``x [..., n_in] @ w [n_in, n_out]`` as one 2-D MatMul (as Sonnet's Linear does)."""
        lead = tf.shape(x)[:-1]
        y = tf.matmul(tf.reshape(x, [-1, w.shape[0]]), w)
        if b is not None:
            y = y + b
        return tf.reshape(y, tf.concat([lead, [w.shape[1]]], axis=0))

    class SoftmaxPool(tf.Module):
        """Per-channel softmax pooling of ``pool_size`` positions (logits: a bias-free square dense layer)."""

        def __init__(self, n: int, name: str) -> None:
            super().__init__(name=name)
            # the published initialisation is 2 x identity (close to max pooling); noise makes it random
            self.w = var(2.0 * np.eye(n, dtype=np.float32) + init.weight((n, n), n), "logit_w")

        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            n = x.shape[-1]
            x = tf.reshape(x, [-1, x.shape[1] // c.pool_size, c.pool_size, n])
            return tf.reduce_sum(x * softmax(dense(x, self.w), axis=-2), axis=-2)

    class LayerNorm(tf.Module):
        def __init__(self, n: int, name: str) -> None:
            super().__init__(name=name)
            self.scale = var(1.0 + init.normal((n,), 0.05), "scale")
            self.offset = var(init.normal((n,), 0.05), "offset")

        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            x = f32(x)
            mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
            y = (x - mean) * tf.math.rsqrt(variance + c.epsilon) * f32(self.scale) + f32(self.offset)
            return tf.cast(y, dt)

    class Attention(tf.Module):
        def __init__(self, name: str) -> None:
            super().__init__(name=name)
            C, H, K, V = c.channels, c.heads, c.key_size, c.value_size
            self.q = var(init.weight((C, H * K), C), "q_w")
            self.k = var(init.weight((C, H * K), C), "k_w")
            self.v = var(init.weight((C, H * V), C), "v_w")
            self.r_k = var(init.weight((c.relative_features, H * K), c.relative_features), "r_k_w")
            self.r_w_bias = var(init.normal((1, H, 1, K), 0.1), "r_w_bias")
            self.r_r_bias = var(init.normal((1, H, 1, K), 0.1), "r_r_bias")
            self.out_w = var(init.weight((H * V, C), H * V), "embedding_w")
            self.out_b = var(init.normal((C,), 0.01), "embedding_b")

        def _split(self, x: tf.Tensor, size: int) -> tf.Tensor:
            """``[B, T, H * size]`` -> ``[B, H, T, size]``."""
            x = tf.reshape(x, [tf.shape(x)[0], x.shape[1], c.heads, size])
            return tf.transpose(x, [0, 2, 1, 3])

        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            t = x.shape[1]
            q = self._split(dense(x, self.q), c.key_size) * (c.key_size**-0.5)
            k = self._split(dense(x, self.k), c.key_size)
            v = self._split(dense(x, self.v), c.value_size)
            feats = tf.cast(positional_features(t, c.relative_features)[None], dt)
            r_k = self._split(dense(feats, self.r_k), c.key_size)
            content = tf.matmul(q + self.r_w_bias, k, transpose_b=True)  # [B, H, T, T]
            relative = relative_shift(tf.matmul(q + self.r_r_bias, r_k, transpose_b=True))  # [B, H, T, T]
            weights = softmax(content + relative)
            out = tf.transpose(tf.matmul(weights, v), [0, 2, 1, 3])  # [B, T, H, V]
            out = tf.reshape(out, [tf.shape(x)[0], t, c.heads * c.value_size])
            return dense(out, self.out_w, self.out_b)

    class TransformerBlock(tf.Module):
        def __init__(self, name: str) -> None:
            super().__init__(name=name)
            C = c.channels
            self.mha_norm = LayerNorm(C, "mha_norm")
            self.mha = Attention("attention")
            self.mlp_norm = LayerNorm(C, "mlp_norm")
            self.w1 = var(init.weight((C, 2 * C), C), "mlp_w1")
            self.b1 = var(init.normal((2 * C,), 0.01), "mlp_b1")
            self.w2 = var(init.weight((2 * C, C), 2 * C), "mlp_w2")
            self.b2 = var(init.normal((C,), 0.01), "mlp_b2")

        def __call__(self, x: tf.Tensor) -> tf.Tensor:
            x = x + self.mha(self.mha_norm(x))
            return x + dense(tf.nn.relu(dense(self.mlp_norm(x), self.w1, self.b1)), self.w2, self.b2)

    class EnformerTwin(tf.Module):
        def __init__(self) -> None:
            super().__init__(name="enformer_twin")
            c0 = c.channels // 2
            self.stem_conv = Conv(4, c0, c.stem_width, "stem_conv")
            self.stem_pointwise = ConvBlock(c0, c0, 1, "stem_pointwise")
            self.stem_pool = SoftmaxPool(c0, "stem_pool")
            self.tower = []
            c_in = c0
            for i, f in enumerate(c.filter_list()):
                self.tower.append((ConvBlock(c_in, f, c.tower_width, f"tower_{i}_conv"),
                                   ConvBlock(f, f, 1, f"tower_{i}_pointwise"), SoftmaxPool(f, f"tower_{i}_pool")))
                c_in = f
            self.transformer = [TransformerBlock(f"transformer_{i}") for i in range(c.transformer_layers)]
            self.final = ConvBlock(c.channels, 2 * c.channels, 1, "final_pointwise")
            self.head_w = {}
            self.head_b = {}
            for name, n in c.output_heads:
                self.head_w[name] = var(init.weight((2 * c.channels, n), 2 * c.channels), f"head_{name}_w")
                self.head_b[name] = var(init.normal((n,), 0.01), f"head_{name}_b")

        def __call__(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            x = self.stem_conv(tf.cast(x, dt))
            x = self.stem_pool(x + self.stem_pointwise(x))
            for conv, pointwise, pool in self.tower:
                x = conv(x)
                x = pool(x + pointwise(x))
            for block in self.transformer:
                x = block(x)
            x = x[:, c.crop : c.crop + c.target_length, :]
            x = gelu(self.final(x))
            return {name: tf.nn.softplus(f32(dense(x, self.head_w[name], self.head_b[name])))
                    for name, _n in c.output_heads}

        @tf.function(input_signature=[tf.TensorSpec([None, c.sequence_length, 4], tf.float32, name="x")])
        def predict_on_batch(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return self(x)

    return EnformerTwin()
