"""The official AASIST forward pass (github.com/clovaai/aasist, ``models/AASIST.py``),
re-written as one function over the weights of ``speechbrain_ssdctx.models.AASIST``.

For ``bench_models.py`` only (not part of the package): the time of the computation as the
official code performs it, on the same weights and input. Written from the official code's
description, not copied; what it does the way the official network does, where ours
differs:

* the sinc filters are a fixed tensor, cloned and reshaped at every call;
* residual blocks 2-6 batch-normalise and SELU their input through ``bn1``, then discard
  the result (the convolution reads the block's input);
* SELU, the residual sum and the dropouts run in place;
* ``abs`` of the encoder output is computed twice (spectral and temporal maxima);
* the heterogeneous layers score all node pairs, then fill a zero board block by block
  (four matrix products on slices: type 1-1, 2-2 and both cross blocks with one weight),
  and both attention maps are softmax-normalised over the second-to-last axis of
  ``[B, N, N, 1]``;
* the first heterogeneous layer of each branch gets the unexpanded ``[1, 1, D]`` master.

    from aasist_official_forward import official_forward
    logits = official_forward(model, wavs)   # model: speechbrain_ssdctx.models.AASIST
"""

import torch
import torch.nn.functional as F


def official_forward(model, wavs: torch.Tensor) -> torch.Tensor:
    """The official ``Model.forward(x)``: ``[B, T]`` waveforms to ``[B, 2]`` logits."""
    filters = model.conv_time.filters.clone().view(model.conv_time.filters.shape[0], 1, -1)
    x = F.conv1d(wavs.unsqueeze(1), filters).unsqueeze(1)
    x = F.max_pool2d(torch.abs(x), (3, 3))
    x = F.selu(model.first_bn(x), inplace=True)
    for index, wrapper in enumerate(model.encoder):
        x = _residual_block(wrapper[0], x, first=index == 0)
    spectral, _ = torch.max(torch.abs(x), dim=3)
    spectral = spectral.transpose(1, 2) + model.pos_S
    out_s = _graph_pool(model.pool_S, _graph_attention(model.GAT_layer_S, spectral))
    temporal, _ = torch.max(torch.abs(x), dim=2)
    temporal = temporal.transpose(1, 2)
    out_t = _graph_pool(model.pool_T, _graph_attention(model.GAT_layer_T, temporal))
    branches = []
    for layers, pools, master in (
        ((model.HtrgGAT_layer_ST11, model.HtrgGAT_layer_ST12),
         (model.pool_hS1, model.pool_hT1), model.master1),
        ((model.HtrgGAT_layer_ST21, model.HtrgGAT_layer_ST22),
         (model.pool_hS2, model.pool_hT2), model.master2),
    ):
        t1, s1, m1 = _hetero_layer(layers[0], out_t, out_s, master)
        s1, t1 = _graph_pool(pools[0], s1), _graph_pool(pools[1], t1)
        t_aug, s_aug, m_aug = _hetero_layer(layers[1], t1, s1, m1)
        branches.append((t1 + t_aug, s1 + s_aug, m1 + m_aug))
    (t1, s1, m1), (t2, s2, m2) = (
        tuple(_dropout(model.drop_way, part) for part in branch) for branch in branches
    )
    out_t, out_s, master = torch.max(t1, t2), torch.max(s1, s2), torch.max(m1, m2)
    t_max, _ = torch.max(torch.abs(out_t), dim=1)
    s_max, _ = torch.max(torch.abs(out_s), dim=1)
    hidden = torch.cat([t_max, torch.mean(out_t, dim=1), s_max, torch.mean(out_s, dim=1),
                        master.squeeze(1)], dim=1)
    return model.out_layer(_dropout(model.drop, hidden))


def _dropout(module, x):
    return F.dropout(x, module.p, module.training, inplace=True)


def _residual_block(block, x, first: bool):
    identity = x
    if not first:  # computed, then discarded, as in the official block
        out = F.selu(block.bn1(x), inplace=True)
    out = block.conv1(x)
    out = F.selu(block.bn2(out), inplace=True)
    out = block.conv2(out)
    if block.conv_downsample is not None:
        identity = block.conv_downsample(identity)
    out += identity
    return F.max_pool2d(out, (1, 3))


def _batch_norm(bn, x):
    size = x.size()
    return bn(x.view(-1, size[-1])).view(size)


def _pairwise(x):
    nodes = x.size(1)
    x = x.unsqueeze(2).expand(-1, -1, nodes, -1)
    return x * x.transpose(1, 2)


def _graph_attention(layer, x):
    x = layer.input_drop(x)
    scores = torch.matmul(torch.tanh(layer.att_proj(_pairwise(x))), layer.att_weight)
    attention = F.softmax(scores / layer.temperature, dim=-2)
    x = layer.proj_with_att(torch.matmul(attention.squeeze(-1), x)) + layer.proj_without_att(x)
    return F.selu(_batch_norm(layer.bn, x), inplace=True)


def _hetero_layer(layer, x1, x2, master):
    n1, n2 = x1.size(1), x2.size(1)
    x = torch.cat([layer.proj_type1(x1), layer.proj_type2(x2)], dim=1)
    x = layer.input_drop(x)
    hidden = torch.tanh(layer.att_proj(_pairwise(x)))
    board = torch.zeros_like(hidden[:, :, :, 0]).unsqueeze(-1)
    board[:, :n1, :n1, :] = torch.matmul(hidden[:, :n1, :n1, :], layer.att_weight11)
    board[:, n1:, n1:, :] = torch.matmul(hidden[:, n1:, n1:, :], layer.att_weight22)
    board[:, :n1, n1:, :] = torch.matmul(hidden[:, :n1, n1:, :], layer.att_weight12)
    board[:, n1:, :n1, :] = torch.matmul(hidden[:, n1:, :n1, :], layer.att_weight12)
    attention = F.softmax(board / layer.temperature, dim=-2)
    master_scores = torch.matmul(torch.tanh(layer.att_projM(x * master)), layer.att_weightM)
    master_attention = F.softmax(master_scores / layer.temperature, dim=-2)
    master = (layer.proj_with_attM(torch.matmul(master_attention.squeeze(-1).unsqueeze(1), x))
              + layer.proj_without_attM(master))
    x = layer.proj_with_att(torch.matmul(attention.squeeze(-1), x)) + layer.proj_without_att(x)
    x = F.selu(_batch_norm(layer.bn, x), inplace=True)
    return x.narrow(1, 0, n1), x.narrow(1, n1, n2), master


def _graph_pool(pool, h):
    scores = torch.sigmoid(pool.proj(pool.drop(h)))
    _, nodes, features = h.size()
    _, index = torch.topk(scores, max(int(nodes * pool.ratio), 1), dim=1)
    return torch.gather(h * scores, 1, index.expand(-1, -1, features))
