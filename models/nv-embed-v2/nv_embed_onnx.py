"""NV-Embed-v2 as an ONNX-exportable PyTorch module (imported only after torch is known to be present).

The graph is written here rather than traced from the model's remote code, so that what is exported is
code we control and test: the --tiny self-test runs these same classes with small random weights.
Parameter names match NV-Embed-v2's checkpoint (MistralModel + LatentAttentionModel), so the real
weights load with load_state_dict(strict=True).
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class EncoderConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0


@dataclass
class LatentConfig:
    hidden_size: int
    num_latents: int
    num_heads: int
    head_dim: int
    ff_mult: int = 4
    # Whether the attention output projection has a bias (Perceiver-style code varies); read from the checkpoint.
    out_bias: bool = False


class RMSNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        # Variance in float32 as transformers' MistralRMSNorm does: fp16 squares overflow.
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class SelfAttention(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.heads = cfg.num_heads
        self.kv_heads = cfg.num_kv_heads
        self.head_dim = cfg.hidden_size // cfg.num_heads
        self.q_proj = nn.Linear(cfg.hidden_size, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.hidden_size, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.hidden_size, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, cfg.hidden_size, bias=False)

    def split(self, x, heads):
        # reshape, not unflatten: torch 1.13 has no ONNX symbolic for unflatten.
        return x.reshape(x.shape[0], x.shape[1], heads, self.head_dim).transpose(1, 2)

    def expand_kv(self, x):
        # Grouped-query attention: each kv head serves heads/kv_heads query heads. view/expand/flatten, because
        # repeat_interleave exported by torch 1.13 fails in onnxruntime ("left operand cannot broadcast").
        rep = self.heads // self.kv_heads
        return x.unsqueeze(2).expand(-1, -1, rep, -1, -1).flatten(1, 2)

    def forward(self, x, cos, sin, key_bias):
        q = self.split(self.q_proj(x), self.heads)
        k = self.split(self.k_proj(x), self.kv_heads)
        v = self.split(self.v_proj(x), self.kv_heads)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = self.expand_kv(k), self.expand_kv(v)
        # Bidirectional: only padded keys are masked, no causal triangle (NV-Embed-v2 removes it).
        scores = torch.matmul(q, k.transpose(2, 3)).float() / math.sqrt(self.head_dim) + key_bias
        probs = torch.softmax(scores, dim=-1).to(v.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).flatten(2)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.self_attn = SelfAttention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, cos, sin, key_bias):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, key_bias)
        return x + self.mlp(self.post_attention_layernorm(x))


class BidirectionalMistral(nn.Module):
    """Mistral's decoder stack with a padding-only attention mask (NV-Embed-v2's BidirectionalMistralModel)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        head_dim = cfg.hidden_size // cfg.num_heads
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
        # Not persistent: the checkpoint does not hold it either (transformers recomputes it).
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, input_ids, attention_mask):
        x = self.embed_tokens(input_ids)
        # Positions 0..n-1 from a cumulative sum rather than arange(shape): the length stays a dynamic axis.
        positions = (torch.cumsum(torch.ones_like(input_ids), dim=1) - 1).float()
        freqs = positions.unsqueeze(-1) * self.inv_freq
        angles = torch.cat((freqs, freqs), dim=-1).unsqueeze(1)  # [batch, 1, n, head_dim]
        cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
        # Additive float32 bias on padded keys, [batch, 1, 1, n]; float32 so fp16 scores cannot overflow to -inf.
        key_bias = (1.0 - attention_mask.float())[:, None, None, :] * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, cos, sin, key_bias)
        return self.norm(x)


class _PreNorm(nn.Module):
    def __init__(self, dim, fn, context_dim=None):
        super().__init__()
        self.fn = fn
        self.norm = nn.LayerNorm(dim)
        self.norm_context = nn.LayerNorm(context_dim) if context_dim is not None else None


class _CrossAttention(nn.Module):
    def __init__(self, query_dim, context_dim, heads, dim_head, out_bias=False):
        super().__init__()
        self.heads = heads
        self.dim_head = dim_head
        self.to_q = nn.Linear(query_dim, heads * dim_head, bias=False)
        self.to_kv = nn.Linear(context_dim, heads * dim_head * 2, bias=False)
        self.to_out = nn.Linear(heads * dim_head, query_dim, bias=out_bias)


class _FeedForward(nn.Module):
    def __init__(self, dim, mult):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim * mult * 2), _GEGLU(), nn.Linear(dim * mult, dim))


class _GEGLU(nn.Module):
    def forward(self, x):
        x, gates = x.chunk(2, dim=-1)
        return x * F.gelu(gates)


class LatentAttentionPooling(nn.Module):
    """NV-Embed-v2's latent attention, per token: the token states are the queries and a trained array of
    latents the keys and values; then a feed-forward block. Both are residual. Pooling is done by the wrapper."""

    def __init__(self, cfg: LatentConfig):
        super().__init__()
        dim = cfg.hidden_size
        self.cross_attend_blocks = nn.ModuleList([
            _PreNorm(dim, _CrossAttention(dim, dim, cfg.num_heads, cfg.head_dim, cfg.out_bias), context_dim=dim),
            _PreNorm(dim, _FeedForward(dim, cfg.ff_mult)),
        ])
        self.latents = nn.Parameter(torch.randn(cfg.num_latents, dim))

    def forward(self, hidden):
        attend, feed = self.cross_attend_blocks
        att = attend.fn
        # Keys and values depend only on weights: the exporter folds them into constants.
        k, v = att.to_kv(attend.norm_context(self.latents)).chunk(2, dim=-1)
        k = k.reshape(-1, att.heads, att.dim_head).transpose(0, 1)  # [heads, latents, dim_head]
        v = v.reshape(-1, att.heads, att.dim_head).transpose(0, 1)
        q = att.to_q(attend.norm(hidden))
        q = q.reshape(q.shape[0], q.shape[1], att.heads, att.dim_head).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(1, 2)).float() / math.sqrt(att.dim_head)
        probs = torch.softmax(scores, dim=-1).to(v.dtype)
        hidden = att.to_out(torch.matmul(probs, v).transpose(1, 2).flatten(2)) + hidden
        return feed.fn.net(feed.norm(hidden)) + hidden


class NVEmbedForOnnx(nn.Module):
    """The exported graph: (input_ids, attention_mask, pool_mask) int64 [batch, n] -> float32 [batch, dims],
    L2-normalized. pool_mask is attention_mask with the query instruction zeroed, as NV-Embed-v2's encode() builds it."""

    def __init__(self, encoder, pooling, projection=None):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        # Only the --tiny model has one: it lifts a 64-wide toy to NV-Embed-v2's 4096 output dims.
        self.projection = projection

    def forward(self, input_ids, attention_mask, pool_mask):
        hidden = self.pooling(self.encoder(input_ids, attention_mask))
        mask = (pool_mask * attention_mask).unsqueeze(-1).float()
        mean = (hidden.float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        if self.projection is not None:
            mean = self.projection(mean.to(self.projection.weight.dtype)).float()
        return mean / mean.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def tiny_model(seed=0, vocab_size=32000, dims=4096):
    """A small random model with NV-Embed-v2's structure (GQA 4:2, 2 layers, 16 latents), float32."""
    torch.manual_seed(seed)
    enc = EncoderConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_layers=2,
                        num_heads=4, num_kv_heads=2, rope_theta=10000.0)
    lat = LatentConfig(hidden_size=64, num_latents=16, num_heads=2, head_dim=64)
    model = NVEmbedForOnnx(BidirectionalMistral(enc), LatentAttentionPooling(lat), nn.Linear(64, dims, bias=False))
    with torch.no_grad():
        # Larger than default init so that random texts land far apart and the checks mean something.
        for name, p in model.named_parameters():
            if p.dim() == 2 and "embed_tokens" not in name:
                p.normal_(0.0, 1.0 / math.sqrt(p.shape[1]))
    return model.eval()


def from_nv_embed(hf_model):
    """Builds NVEmbedForOnnx from a loaded nvidia/NV-Embed-v2 (transformers AutoModel, trust_remote_code)."""
    text = hf_model.config.text_config
    latent = hf_model.config.latent_attention_config
    enc = EncoderConfig(
        vocab_size=text.vocab_size, hidden_size=text.hidden_size, intermediate_size=text.intermediate_size,
        num_layers=text.num_hidden_layers, num_heads=text.num_attention_heads,
        num_kv_heads=text.num_key_value_heads, rms_norm_eps=text.rms_norm_eps,
        rope_theta=getattr(text, "rope_theta", 10000.0))
    pooling_weights = hf_model.latent_attention_model.state_dict()
    # NV-Embed-v2's Attention uses dim_head = latent_dim (8 heads x 4096 = 32768 wide).
    lat = LatentConfig(hidden_size=latent.hidden_dim, num_latents=latent.num_latents_value,
                       num_heads=latent.num_cross_heads, head_dim=latent.latent_dim,
                       out_bias="cross_attend_blocks.0.fn.to_out.bias" in pooling_weights)
    dtype = next(hf_model.parameters()).dtype
    encoder = BidirectionalMistral(enc)
    pooling = LatentAttentionPooling(lat)
    encoder.load_state_dict(hf_model.embedding_model.state_dict(), strict=True)
    pooling.load_state_dict(pooling_weights, strict=True)
    device = next(hf_model.parameters()).device
    inv_freq = encoder.inv_freq.clone()
    model = NVEmbedForOnnx(encoder, pooling).to(device=device, dtype=dtype).eval()
    # Rotary frequencies stay float32 (as in transformers): in fp16 the angles of late positions go wrong.
    encoder.inv_freq = inv_freq.to(device)
    return model
