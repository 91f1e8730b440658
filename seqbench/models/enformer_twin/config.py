"""Enformer's architecture as numbers: hyper-parameters, geometry, analytic FLOP and parameter counts.

No TensorFlow here: ``seqbench.estimate`` and ``seqbench-ray plan`` read the FLOP count without it.

The architecture (Avsec et al. 2021; deepmind-research ``enformer/enformer.py`` and
``attention_module.py``), for an input of ``L`` bp one-hot ``[L, 4]`` and ``C`` channels:

1. **stem**: Conv1D(C/2, width 15) -> Residual(BN -> GELU -> Conv1D(C/2, 1)) -> softmax pooling 2
   (per channel: logits are a bias-free C/2 x C/2 dense layer).
2. **conv tower**: 6 blocks with exponentially spaced filters C/2 .. C rounded to multiples of 128
   (768, 896, 1024, 1152, 1280, 1536); each BN -> GELU -> Conv1D(f, 5) -> Residual(BN -> GELU ->
   Conv1D(f, 1)) -> softmax pooling 2.  After 7 poolings one position is 2^7 = 128 bp.
3. **transformer**: 11 blocks, each Residual(LayerNorm -> multi-head attention) and Residual(LayerNorm ->
   Dense(2C) -> ReLU -> Dense(C)); attention has 8 heads, key size 64, value size 192 (8 x 192 = C),
   TransformerXL-style relative positions: 192 features (exponential, central-mask and gamma basis
   functions, each symmetric and sign-asymmetric) over the ``2T - 1`` relative distances, projected to
   keys, with content and position biases ``r_w``, ``r_r``.
4. **crop** the ``T = L / 128`` positions to the central 896 (``target_length``).
5. **final pointwise**: BN -> GELU -> Conv1D(2C, 1) -> GELU.
6. **heads**: Dense(n) -> softplus, human 5,313 and mouse 1,643 tracks.

BatchNorm runs in inference mode (moving statistics); dropout is the identity at inference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from seqbench.models.base import Geometry

#: the relative-position basis functions of the published model (fixed; each is used symmetric and asymmetric)
RELATIVE_POSITION_FUNCTIONS = ("exponential", "central_mask", "gamma")


@dataclass(frozen=True)
class TwinConfig:
    """Hyper-parameters of an Enformer-architecture network (defaults: the published model at TF-Hub's
    input length).  Lengths in bp (``sequence_length``) or in positions of the trunk."""

    #: input length (bp); TF-Hub's Enformer takes 393,216
    sequence_length: int = 393_216
    #: channels of the trunk (C); the stem has C/2
    channels: int = 1536
    #: conv tower blocks (each halves the length); the stem halves it once more
    tower_blocks: int = 6
    #: the tower's filter counts are rounded to multiples of this
    divisible_by: int = 128
    stem_width: int = 15
    tower_width: int = 5
    pool_size: int = 2
    transformer_layers: int = 11
    heads: int = 8
    key_size: int = 64
    value_size: int = 192
    #: relative-position features (a multiple of 2 x 3 basis functions)
    relative_features: int = 192
    #: output positions kept by the central crop (bins)
    target_length: int = 896
    #: output heads, (name, tracks) in order; TF-Hub's Enformer returns both
    output_heads: tuple[tuple[str, int], ...] = field(default=(("human", 5313), ("mouse", 1643)))
    #: LayerNorm and BatchNorm epsilon (Sonnet's default)
    epsilon: float = 1e-5

    def __post_init__(self) -> None:
        problems = []
        if self.channels % 2:
            problems.append(f"channels = {self.channels}: expected an even number (the stem has channels / 2)")
        if self.tower_blocks < 2:
            problems.append(f"tower_blocks = {self.tower_blocks}: expected at least 2")
        if self.heads * self.value_size != self.channels:
            problems.append(f"heads x value_size = {self.heads * self.value_size}: expected channels = {self.channels}"
                            " (the attention output is added back to its input)")
        n_basis = 2 * len(RELATIVE_POSITION_FUNCTIONS)
        if self.relative_features % n_basis:
            problems.append(f"relative_features = {self.relative_features}: expected a multiple of {n_basis}")
        if self.sequence_length % self.bin_size:
            problems.append(f"sequence_length = {self.sequence_length}: expected a multiple of {self.bin_size}")
        elif not 0 < self.target_length <= self.trunk_length or (self.trunk_length - self.target_length) % 2:
            problems.append(f"target_length = {self.target_length}: expected at most {self.trunk_length} trunk"
                            " positions, leaving an even number to crop")
        if problems:
            raise ValueError("TwinConfig: " + "; ".join(problems))

    @property
    def bin_size(self) -> int:
        """bp per output position: one pooling in the stem and one per tower block."""
        return int(self.pool_size ** (1 + self.tower_blocks))

    @property
    def trunk_length(self) -> int:
        """Positions entering the transformer (``T``)."""
        return self.sequence_length // self.bin_size

    @property
    def crop(self) -> int:
        """Positions cropped on each side after the transformer."""
        return (self.trunk_length - self.target_length) // 2

    @property
    def geometry(self) -> Geometry:
        """The output geometry: ``target_length`` bins of ``bin_size`` bp, the first at ``crop x bin_size`` bp
        (0-based input position)."""
        return Geometry(self.sequence_length, self.bin_size, self.crop * self.bin_size, self.target_length)

    def filter_list(self) -> list[int]:
        """The tower's filter counts: ``tower_blocks`` values spaced exponentially from C/2 to C, each rounded
        to the nearest multiple of ``divisible_by`` (published: 768, 896, 1024, 1152, 1280, 1536)."""
        start, end, n = self.channels // 2, self.channels, self.tower_blocks
        ratio = (end / start) ** (1 / (n - 1))
        return [int(round(start * ratio**i / self.divisible_by) * self.divisible_by) for i in range(n)]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["output_heads"] = [list(h) for h in self.output_heads]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TwinConfig:
        return cls(**{**d, "output_heads": tuple((str(n), int(k)) for n, k in d["output_heads"])})


#: the published architecture at TF-Hub's input length (393,216 bp -> 3,072 trunk positions -> 896 bins)
FULL = TwinConfig()


def tiny_config(**overrides: Any) -> TwinConfig:
    """A small network of the same code paths, for tests: 1,024 bp, 2 tower blocks (8-bp bins), 128 trunk
    positions cropped to 64 bins, 48 channels, 2 transformer layers of 2 heads."""
    base = dict(sequence_length=1024, channels=48, tower_blocks=2, divisible_by=8, transformer_layers=2, heads=2,
                key_size=8, value_size=24, relative_features=12, target_length=64,
                output_heads=(("human", 7), ("mouse", 3)))
    return TwinConfig(**{**base, **overrides})


def flops(config: TwinConfig = FULL) -> dict[str, int]:
    """Floating-point operations of one forward pass of one sequence, by part (a pure function of ``config``).

    Counted: 2 x the multiply-adds of every convolution (over all output positions, ``SAME`` padding
    included, as a GPU computes them), dense layer, softmax-pooling logit layer, attention product
    (``QK^T``, the relative logits ``(Q + r_r) R_k^T`` over all ``2T - 1`` distances before the shift,
    ``weights x V``), the projection of the relative-position features to keys (done once per call,
    shared by a batch; counted once here), the feed-forward layers, the final pointwise convolution and
    the heads.  Ignored: everything elementwise and O(positions x channels) -- biases, BatchNorm,
    LayerNorm, GELU, ReLU, softmax, softplus, the softmax-pooling weighted sum, the positional basis
    functions, the relative shift and the crop (TensorFlow's profiler counts 0.25 % more at the published
    size, all of it elementwise; its Conv2D + MatMul + BatchMatMul count equals this one exactly).
    """
    c = config
    L = c.sequence_length
    c0 = c.channels // 2
    out: dict[str, int] = {}
    out["stem_conv"] = 2 * L * c.stem_width * 4 * c0
    out["stem_pointwise"] = 2 * L * c0 * c0
    out["stem_pool_logits"] = 2 * L * c0 * c0
    tower_conv = tower_pointwise = tower_pool = 0
    length, c_in = L // c.pool_size, c0
    for f in c.filter_list():
        tower_conv += 2 * length * c.tower_width * c_in * f
        tower_pointwise += 2 * length * f * f
        tower_pool += 2 * length * f * f
        length, c_in = length // c.pool_size, f
    out["tower_conv"], out["tower_pointwise"], out["tower_pool_logits"] = tower_conv, tower_pointwise, tower_pool
    T, C, H, K, V, n = c.trunk_length, c.channels, c.heads, c.key_size, c.value_size, c.transformer_layers
    out["attention_qkv"] = n * 2 * T * C * H * (2 * K + V)
    out["attention_relative_keys"] = n * 2 * (2 * T - 1) * c.relative_features * H * K
    out["attention_content_logits"] = n * 2 * H * T * T * K
    out["attention_relative_logits"] = n * 2 * H * T * (2 * T - 1) * K
    out["attention_values"] = n * 2 * H * T * T * V
    out["attention_output"] = n * 2 * T * H * V * C
    out["feed_forward"] = n * 2 * (2 * T * C * 2 * C)
    out["final_pointwise"] = 2 * c.target_length * C * 2 * C
    out["heads"] = sum(2 * c.target_length * 2 * C * k for _name, k in c.output_heads)
    return out


def total_flops(config: TwinConfig = FULL) -> int:
    """Sum of :func:`flops`: FLOP per forward pass of one sequence."""
    return sum(flops(config).values())


def parameter_counts(config: TwinConfig = FULL) -> dict[str, int]:
    """Numbers stored per part: ``trainable`` (weights, biases, BN scale/offset, LayerNorm, ``r_w``/``r_r``)
    and ``moving_statistics`` (BatchNorm's moving mean and variance).  A pure function of ``config``."""
    c = config
    c0, C, H, K, V = c.channels // 2, c.channels, c.heads, c.key_size, c.value_size
    trainable = moving = 0

    def conv_block(c_in: int, c_out: int, width: int) -> None:
        nonlocal trainable, moving
        trainable += 2 * c_in + width * c_in * c_out + c_out  # BN scale+offset, kernel, bias
        moving += 2 * c_in

    trainable += c.stem_width * 4 * c0 + c0
    conv_block(c0, c0, 1)
    trainable += c0 * c0  # pooling logits
    c_in = c0
    for f in c.filter_list():
        conv_block(c_in, f, c.tower_width)
        conv_block(f, f, 1)
        trainable += f * f
        c_in = f
    per_layer = (2 * C  # LayerNorm
                 + C * H * (2 * K + V)  # q, k, v
                 + H * V * C + C  # output projection
                 + c.relative_features * H * K + 2 * H * K  # relative keys, r_w and r_r biases
                 + 2 * C + C * 2 * C + 2 * C + 2 * C * C + C)  # LayerNorm, feed-forward
    trainable += c.transformer_layers * per_layer
    conv_block(C, 2 * C, 1)
    trainable += sum(2 * C * k + k for _name, k in c.output_heads)
    return {"trainable": trainable, "moving_statistics": moving}


def describe_flops(config: TwinConfig = FULL) -> str:
    """One line for ``plan``: the total and the largest parts."""
    parts = flops(config)
    total = sum(parts.values())
    conv = sum(v for k, v in parts.items() if k.startswith(("stem", "tower")))
    att = sum(v for k, v in parts.items() if k.startswith("attention"))
    return (f"{total / 1e12:.2f} TFLOP/pass analytic ({config.sequence_length:,} bp, {config.trunk_length:,} trunk"
            f" positions): convolutions {conv / total:.0%}, attention {att / total:.0%},"
            f" feed-forward {parts['feed_forward'] / total:.0%}")

