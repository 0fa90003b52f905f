#!/usr/bin/env python3
"""Generates the ONNX import fixtures under Tests/ConvKitONNXTests/Fixtures.

For every case: NAME.onnx (built with onnx.helper, random weights from a fixed
seed), NAME.in.npy (the input) and NAME.out.npy (onnxruntime's output, CPU
provider; further graph outputs as NAME.out.1.npy, ...). Cases cover every operator and attribute combination ConvKit's
importer supports, per opset, plus small networks (LeNet-5, a residual block,
an inverted-residual block, an Inception module, a tiny U-Net). Files named
reject_*.onnx are models the importer must refuse (no outputs).

    pip install onnx onnxruntime numpy
    python3 Scripts/onnx/make_fixtures.py [--out DIR]

The test suite reads the committed files; it never runs Python.
"""
import argparse
import os
import sys
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(20240607)


class G:
    """A tiny graph builder: one float input, nodes, initializers, one output."""

    def __init__(self, name, input_shape, opset=13):
        self.name = name
        self.opset = opset
        self.input_shape = list(input_shape)
        self.nodes = []
        self.inits = []
        self.count = 0

    def w(self, shape, scale=None, name=None, raw=True):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        scale = scale if scale is not None else 1.0 / np.sqrt(max(fan_in, 1))
        arr = (RNG.standard_normal(shape) * scale).astype(np.float32)
        return self.const(arr, name, raw)

    def const(self, arr, name=None, raw=True):
        self.count += 1
        name = name or f"c{self.count}"
        t = numpy_helper.from_array(np.asarray(arr), name)
        if not raw and t.data_type == TensorProto.FLOAT:
            # typed field (float_data) instead of raw_data
            t = helper.make_tensor(name, TensorProto.FLOAT, list(np.asarray(arr).shape),
                                   np.asarray(arr, np.float32).flatten().tolist(), raw=False)
        self.inits.append(t)
        return name

    def op(self, op_type, inputs, n_out=1, **attrs):
        self.count += 1
        outs = [f"v{self.count}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=f"{op_type.lower()}{self.count}", **attrs))
        return outs[0] if n_out == 1 else outs

    def model(self, output):
        inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, self.input_shape)
        outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                for o in (output if isinstance(output, list) else [output])]
        graph = helper.make_graph(self.nodes, self.name, [inp], outs, initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                              producer_name="convkit-make-fixtures")
        m.ir_version = min(m.ir_version, 8 if self.opset <= 17 else 9)
        return m


CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def conv(g, x, cin, cout, k, group=1, bias=True, **attrs):
    kh, kw = (k, k) if isinstance(k, int) else k
    ins = [x, g.w([cout, cin // group, kh, kw])]
    if bias:
        ins.append(g.w([cout], 0.1))
    return g.op("Conv", ins, group=group, **attrs) if group != 1 else g.op("Conv", ins, **attrs)


def bn(g, x, c, eps=1e-5, opset_attrs=None):
    scale = g.const((RNG.random(c) + 0.5).astype(np.float32))
    shift = g.const((RNG.standard_normal(c) * 0.1).astype(np.float32))
    mean = g.const((RNG.standard_normal(c) * 0.1).astype(np.float32))
    var = g.const((RNG.random(c) + 0.5).astype(np.float32))
    return g.op("BatchNormalization", [x, scale, shift, mean, var], epsilon=eps, **(opset_attrs or {}))


# ---------------------------------------------------------------- Conv
@case
def conv_cases():
    out = []
    for name, shape, cin, cout, k, attrs, kw in [
        ("conv_k3_p1", [1, 3, 9, 9], 3, 4, 3, dict(pads=[1, 1, 1, 1]), {}),
        ("conv_asym_pads_s2", [1, 3, 9, 8], 3, 5, 3, dict(pads=[0, 1, 2, 1], strides=[2, 2]), {}),
        ("conv_dilation2", [1, 2, 11, 11], 2, 3, 3, dict(dilations=[2, 2], pads=[2, 2, 2, 2]), {}),
        ("conv_group2", [1, 4, 8, 8], 4, 6, 3, dict(pads=[1, 1, 1, 1]), dict(group=2)),
        ("conv_depthwise_mult2", [1, 4, 8, 8], 4, 8, 3, dict(pads=[1, 1, 1, 1], strides=[2, 2]), dict(group=4)),
        ("conv_same_upper_s2", [1, 3, 8, 8], 3, 4, 3, dict(auto_pad="SAME_UPPER", strides=[2, 2]), {}),
        ("conv_same_lower_s2", [1, 3, 8, 8], 3, 4, 3, dict(auto_pad="SAME_LOWER", strides=[2, 2]), {}),
        ("conv_same_upper_k2", [1, 3, 7, 7], 3, 4, 2, dict(auto_pad="SAME_UPPER"), {}),
        ("conv_same_lower_k2", [1, 3, 7, 7], 3, 4, 2, dict(auto_pad="SAME_LOWER"), {}),
        ("conv_valid", [1, 3, 9, 9], 3, 4, 3, dict(auto_pad="VALID", strides=[2, 2]), {}),
        ("conv_nobias_1x1", [2, 6, 5, 5], 6, 7, 1, {}, dict(bias=False)),
        ("conv_rect_k3x5_s2x1", [1, 3, 9, 10], 3, 4, (3, 5), dict(strides=[2, 1], pads=[1, 2, 1, 2]), {}),
        ("conv_winograd_16ch", [1, 16, 16, 16], 16, 16, 3, dict(pads=[1, 1, 1, 1]), {}),
        ("conv_kernel_shape_attr", [1, 3, 8, 8], 3, 4, 3, dict(kernel_shape=[3, 3]), {}),
    ]:
        for opset in ([7, 13] if name == "conv_k3_p1" else [13]):
            g = G(name, shape, opset)
            y = conv(g, "x", cin, cout, k, **attrs, **kw)
            out.append((f"{name}_op{opset}" if name == "conv_k3_p1" else name, g.model(y)))
    # float_data (typed field) initializers instead of raw_data
    g = G("conv_float_data", [1, 2, 6, 6], 11)
    y = g.op("Conv", ["x", g.w([3, 2, 3, 3], raw=False), g.w([3], 0.1, raw=False)], pads=[1, 1, 1, 1])
    out.append(("conv_float_data", g.model(y)))
    return out


# ---------------------------------------------------------------- ConvTranspose
@case
def conv_transpose_cases():
    out = []
    for name, shape, cin, cout, attrs, group in [
        ("convT_s2_p1_outpad1", [1, 4, 5, 5], 4, 3, dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]), 1),
        ("convT_output_shape", [1, 4, 7, 7], 4, 3, dict(strides=[2, 2], output_shape=[14, 14]), 1),
        ("convT_same_upper", [1, 4, 7, 7], 4, 3, dict(strides=[2, 2], auto_pad="SAME_UPPER"), 1),
        ("convT_same_lower", [1, 4, 7, 7], 4, 3, dict(strides=[2, 2], auto_pad="SAME_LOWER"), 1),
        ("convT_valid", [1, 4, 5, 5], 4, 3, dict(strides=[2, 2], auto_pad="VALID"), 1),
        ("convT_group2_asym", [1, 4, 5, 6], 4, 6, dict(strides=[2, 1], pads=[1, 0, 0, 1]), 2),
        ("convT_k2_s2", [1, 8, 4, 4], 8, 4, dict(strides=[2, 2]), 1),
    ]:
        g = G(name, shape, 13)
        k = 2 if name == "convT_k2_s2" else 3
        ins = ["x", g.w([cin, cout // group, k, k]), g.w([cout], 0.1)]
        if name == "convT_valid":
            ins = ins[:2]
        y = g.op("ConvTranspose", ins, group=group, **attrs) if group != 1 else g.op("ConvTranspose", ins, **attrs)
        out.append((name, g.model(y)))
    return out


# ---------------------------------------------------------------- Pooling
@case
def pool_cases():
    out = []
    specs = [
        ("maxpool_2x2", "MaxPool", [1, 3, 8, 8], 13, dict(kernel_shape=[2, 2], strides=[2, 2])),
        ("maxpool_3x3_s2_p1", "MaxPool", [1, 3, 9, 9], 13, dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
        ("maxpool_ceil", "MaxPool", [1, 2, 8, 8], 13, dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
        ("maxpool_ceil_pads", "MaxPool", [1, 2, 9, 9], 13, dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)),
        ("maxpool_dilation2", "MaxPool", [1, 2, 10, 10], 12, dict(kernel_shape=[3, 3], dilations=[2, 2])),
        ("maxpool_same_upper", "MaxPool", [1, 2, 7, 7], 13, dict(kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER")),
        ("maxpool_same_lower", "MaxPool", [1, 2, 7, 7], 13, dict(kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_LOWER")),
        ("maxpool_valid", "MaxPool", [1, 2, 7, 7], 13, dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="VALID")),
        ("maxpool_op7", "MaxPool", [1, 2, 8, 8], 7, dict(kernel_shape=[2, 2], strides=[2, 2])),
        ("avgpool_p1_exclude", "AveragePool", [1, 3, 9, 9], 13, dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
        ("avgpool_p1_include", "AveragePool", [1, 3, 9, 9], 13,
         dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)),
        ("avgpool_ceil", "AveragePool", [1, 2, 8, 8], 13, dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
        ("avgpool_ceil_include", "AveragePool", [1, 2, 9, 9], 13,
         dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1)),
        ("avgpool_same_upper", "AveragePool", [1, 2, 7, 7], 13, dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
        ("avgpool_same_lower", "AveragePool", [1, 2, 8, 8], 13, dict(kernel_shape=[2, 2], strides=[1, 1], auto_pad="SAME_LOWER")),
        ("avgpool_dilation2_op19", "AveragePool", [1, 2, 10, 10], 19, dict(kernel_shape=[3, 3], dilations=[2, 2], pads=[1, 1, 1, 1])),
        ("avgpool_op7", "AveragePool", [1, 2, 8, 8], 7, dict(kernel_shape=[2, 2], strides=[2, 2])),
    ]
    for name, op, shape, opset, attrs in specs:
        g = G(name, shape, opset)
        out.append((name, g.model(g.op(op, ["x"], **attrs))))
    for name, op in [("global_avgpool", "GlobalAveragePool"), ("global_maxpool", "GlobalMaxPool")]:
        g = G(name, [2, 3, 5, 6], 13)
        out.append((name, g.model(g.op(op, ["x"]))))
    return out


# ---------------------------------------------------------------- Gemm / MatMul
@case
def dense_cases():
    out = []
    for name, transB, alpha, beta, cshape in [
        ("gemm_transB", 1, 1.0, 1.0, [5]),
        ("gemm_noTrans", 0, 1.0, 1.0, [5]),
        ("gemm_alpha_beta", 1, 0.5, 2.0, [1, 5]),
        ("gemm_scalar_C", 0, 1.0, 0.5, []),
        ("gemm_no_C", 1, 1.5, 1.0, None),
    ]:
        g = G(name, [2, 8], 13)
        b = g.w([5, 8] if transB else [8, 5])
        ins = ["x", b]
        if cshape is not None:
            ins.append(g.const((RNG.standard_normal(cshape) * 0.1).astype(np.float32)))
        out.append((name, g.model(g.op("Gemm", ins, transB=transB, alpha=alpha, beta=beta))))
    g = G("gemm_op7", [2, 8], 7)
    out.append(("gemm_op7", g.model(g.op("Gemm", ["x", g.w([5, 8]), g.w([5], 0.1)], transB=1))))
    g = G("matmul", [3, 8], 13)
    out.append(("matmul", g.model(g.op("MatMul", ["x", g.w([8, 6])]))))
    return out


# ---------------------------------------------------------------- Activations, Clip, Softmax
@case
def activation_cases():
    out = []
    for name, op, attrs in [("relu", "Relu", {}), ("leakyrelu", "LeakyRelu", dict(alpha=0.2)),
                            ("leakyrelu_default", "LeakyRelu", {}),
                            ("sigmoid", "Sigmoid", {}), ("tanh", "Tanh", {})]:
        g = G(name, [1, 3, 4, 5], 13)
        out.append((name, g.model(g.op(op, ["x"], **attrs))))
    # Clip: attributes before opset 11, inputs from 11
    for name, opset, lo, hi in [("clip_op7_relu6", 7, 0.0, 6.0), ("clip_op7_range", 7, -0.5, 0.7)]:
        g = G(name, [1, 3, 4, 5], opset)
        out.append((name, g.model(g.op("Clip", ["x"], min=lo, max=hi))))
    for name, opset, lo, hi in [("clip_op13_relu6", 13, 0.0, 6.0), ("clip_op13_min_only", 13, 0.0, None),
                                ("clip_op11_range", 11, -0.5, 0.5), ("clip_op13_max_only", 13, None, 0.3)]:
        g = G(name, [1, 3, 4, 5], opset)
        ins = ["x", g.const(np.float32(lo)) if lo is not None else ""]
        if hi is not None:
            ins.append(g.const(np.float32(hi)))
        out.append((name, g.model(g.op("Clip", ins))))
    for op in ["Softmax", "LogSoftmax"]:
        p = op.lower()
        for name, opset, shape, attrs in [
            (f"{p}_op11_2d", 11, [2, 10], {}),
            (f"{p}_op13_2d", 13, [2, 10], {}),
            (f"{p}_op13_4d_axis1", 13, [2, 5, 3, 3], dict(axis=1)),
            (f"{p}_op11_4d_hw1", 11, [2, 6, 1, 1], dict(axis=1)),
            (f"{p}_op13_2d_axis1", 13, [3, 7], dict(axis=1)),
        ]:
            g = G(name, shape, opset)
            out.append((name, g.model(g.op(op, ["x"], **attrs))))
    return out


# ---------------------------------------------------------------- Normalisation
@case
def norm_cases():
    out = []
    for name, opset, shape, attrs in [("batchnorm_op7", 7, [2, 4, 5, 5], dict(spatial=1)),
                                      ("batchnorm_op9", 9, [2, 4, 5, 5], {}),
                                      ("batchnorm_op15", 15, [1, 4, 5, 5], dict(training_mode=0)),
                                      ("batchnorm_2d", 13, [3, 6], {})]:
        g = G(name, shape, opset)
        out.append((name, g.model(bn(g, "x", shape[1], 1e-3, attrs))))
    for name, attrs in [("lrn_size5", dict(size=5)), ("lrn_size3_bias2", dict(size=3, alpha=0.001, beta=0.5, bias=2.0))]:
        g = G(name, [1, 7, 4, 4], 13)
        out.append((name, g.model(g.op("LRN", ["x"], **attrs))))
    return out


# ---------------------------------------------------------------- Shape ops
@case
def shape_cases():
    out = []
    for name, opset, attrs in [("flatten_op9", 9, {}), ("flatten_op13_neg_axis", 13, dict(axis=-3))]:
        g = G(name, [2, 3, 4, 4], opset)
        y = g.op("Flatten", ["x"], **attrs)
        out.append((name, g.model(g.op("Gemm", [y, g.w([5, 48]), g.w([5], 0.1)], transB=1))))
    for name, shape in [("reshape_0_m1", [0, -1]), ("reshape_1_m1", [1, -1]), ("reshape_m1_48", [-1, 48]),
                        ("reshape_0_m1_1_1", [0, -1, 1, 1])]:
        g = G(name, [1, 3, 4, 4], 13)
        y = g.op("Reshape", ["x", g.const(np.array(shape, np.int64))])
        if len(shape) == 2:
            y = g.op("Gemm", [y, g.w([5, 48]), g.w([5], 0.1)], transB=1)
        else:
            y = g.op("Sigmoid", [y])
        out.append((name, g.model(y)))
    # shape from a Constant node
    g = G("reshape_constant_node", [2, 3, 2, 2], 13)
    s = g.op("Constant", [], value=numpy_helper.from_array(np.array([0, -1], np.int64)))
    y = g.op("Reshape", ["x", s])
    out.append(("reshape_constant_node", g.model(g.op("Relu", [y]))))
    # Add: residual, per-channel biases, scalar, 2-D bias
    g = G("add_residual", [1, 4, 6, 6], 13)
    y = conv(g, "x", 4, 4, 3, pads=[1, 1, 1, 1])
    out.append(("add_residual", g.model(g.op("Relu", [g.op("Add", [y, "x"])]))))
    for name, cshape in [("add_bias_c11", [4, 1, 1]), ("add_bias_1c11", [1, 4, 1, 1]), ("add_scalar", [])]:
        g = G(name, [2, 4, 3, 3], 13)
        y = g.op("Add", ["x", g.const((RNG.standard_normal(cshape)).astype(np.float32))])
        out.append((name, g.model(y)))
    g = G("add_bias_const_first", [1, 4, 3, 3], 13)
    out.append(("add_bias_const_first", g.model(g.op("Add", [g.const(RNG.standard_normal([4, 1, 1]).astype(np.float32)), "x"]))))
    g = G("add_bias_2d", [2, 6], 13)
    out.append(("add_bias_2d", g.model(g.op("Add", ["x", g.const(RNG.standard_normal([6]).astype(np.float32))]))))
    g = G("add_after_conv_bias", [1, 3, 6, 6], 13)
    y = conv(g, "x", 3, 5, 3, bias=False)
    out.append(("add_after_conv_bias", g.model(g.op("Add", [y, g.const(RNG.standard_normal([1, 5, 1, 1]).astype(np.float32))]))))
    # Concat
    for name, axis in [("concat_axis1", 1), ("concat_axis_neg3", -3)]:
        g = G(name, [1, 3, 5, 5], 13)
        a = conv(g, "x", 3, 2, 1)
        b = conv(g, "x", 3, 4, 3, pads=[1, 1, 1, 1])
        c = g.op("Relu", ["x"])
        out.append((name, g.model(g.op("Concat", [a, b, c], axis=axis))))
    # Dropout / Identity pass-through
    g = G("dropout_op7", [1, 3, 4, 4], 7)
    out.append(("dropout_op7", g.model(g.op("Relu", [g.op("Dropout", ["x"], ratio=0.3)]))))
    g = G("dropout_op12", [1, 3, 4, 4], 12)
    out.append(("dropout_op12", g.model(g.op("Relu", [g.op("Dropout", ["x", g.const(np.float32(0.5))])]))))
    g = G("dropout_op13_training_false", [1, 3, 4, 4], 13)
    d = g.op("Dropout", ["x", g.const(np.float32(0.5)), g.const(np.array(False))])
    out.append(("dropout_op13_training_false", g.model(g.op("Sigmoid", [d]))))
    g = G("identity", [1, 3, 4, 4], 13)
    out.append(("identity", g.model(g.op("Tanh", [g.op("Identity", ["x"])]))))
    # Pad (constant)
    g = G("pad_op7", [1, 2, 4, 4], 7)
    out.append(("pad_op7", g.model(g.op("Pad", ["x"], pads=[0, 0, 1, 2, 0, 0, 2, 1]))))
    g = G("pad_op7_value", [1, 2, 4, 4], 7)
    out.append(("pad_op7_value", g.model(g.op("Pad", ["x"], pads=[0, 0, 1, 1, 0, 0, 1, 1], value=-2.5))))
    g = G("pad_op11", [1, 2, 4, 4], 11)
    out.append(("pad_op11", g.model(g.op("Pad", ["x", g.const(np.array([0, 0, 2, 0, 0, 0, 1, 3], np.int64)),
                                                g.const(np.float32(0))]))))
    g = G("pad_op13_value", [1, 2, 4, 4], 13)
    out.append(("pad_op13_value", g.model(g.op("Pad", ["x", g.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)),
                                                      g.const(np.float32(1.5))], mode="constant"))))
    g = G("pad_op18_axes", [1, 2, 4, 4], 18)
    out.append(("pad_op18_axes", g.model(g.op("Pad", ["x", g.const(np.array([1, 2, 0, 1], np.int64)), "",
                                                     g.const(np.array([2, 3], np.int64))]))))
    g = G("pad_then_conv", [1, 3, 6, 6], 13)
    p = g.op("Pad", ["x", g.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))])
    out.append(("pad_then_conv", g.model(conv(g, p, 3, 4, 3))))
    return out


# ---------------------------------------------------------------- Networks
@case
def networks():
    out = []
    # LeNet-5
    g = G("lenet5", [1, 1, 32, 32], 13)
    y = g.op("Tanh", [conv(g, "x", 1, 6, 5)])
    y = g.op("AveragePool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = g.op("Tanh", [conv(g, y, 6, 16, 5)])
    y = g.op("AveragePool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = g.op("Flatten", [y])
    y = g.op("Relu", [g.op("Gemm", [y, g.w([120, 400]), g.w([120], 0.1)], transB=1)])
    y = g.op("Relu", [g.op("Gemm", [y, g.w([84, 120]), g.w([84], 0.1)], transB=1)])
    y = g.op("Softmax", [g.op("Gemm", [y, g.w([10, 84]), g.w([10], 0.1)], transB=1)], axis=1)
    out.append(("net_lenet5", g.model(y)))
    # Residual block (conv-bn-relu-conv-bn + shortcut, relu), with a projection shortcut
    g = G("residual_block", [1, 8, 12, 12], 13)
    y = g.op("Relu", [bn(g, conv(g, "x", 8, 16, 3, bias=False, pads=[1, 1, 1, 1], strides=[2, 2]), 16)])
    y = bn(g, conv(g, y, 16, 16, 3, bias=False, pads=[1, 1, 1, 1]), 16)
    s = bn(g, conv(g, "x", 8, 16, 1, bias=False, strides=[2, 2]), 16)
    out.append(("net_residual_block", g.model(g.op("Relu", [g.op("Add", [y, s])]))))
    # Inverted residual (MobileNetV2): expand 1x1, depthwise 3x3, project 1x1, + input
    g = G("inverted_residual", [1, 8, 10, 10], 13)
    y = g.op("Clip", [bn(g, conv(g, "x", 8, 48, 1, bias=False), 48), g.const(np.float32(0)), g.const(np.float32(6))])
    y = g.op("Clip", [bn(g, conv(g, y, 48, 48, 3, group=48, bias=False, pads=[1, 1, 1, 1]), 48),
                      g.const(np.float32(0)), g.const(np.float32(6))])
    y = bn(g, conv(g, y, 48, 8, 1, bias=False), 8)
    out.append(("net_inverted_residual", g.model(g.op("Add", ["x", y]))))
    # Inception module
    g = G("inception", [1, 16, 10, 10], 13)
    b1 = g.op("Relu", [conv(g, "x", 16, 8, 1)])
    b2 = g.op("Relu", [conv(g, g.op("Relu", [conv(g, "x", 16, 8, 1)]), 8, 12, 3, pads=[1, 1, 1, 1])])
    b3 = g.op("Relu", [conv(g, g.op("Relu", [conv(g, "x", 16, 4, 1)]), 4, 6, 5, pads=[2, 2, 2, 2])])
    p = g.op("MaxPool", ["x"], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    b4 = g.op("Relu", [conv(g, p, 16, 6, 1)])
    out.append(("net_inception", g.model(g.op("Concat", [b1, b2, b3, b4], axis=1))))
    # Tiny U-Net
    g = G("tiny_unet", [1, 3, 16, 16], 13)
    e1 = g.op("Relu", [conv(g, g.op("Relu", [conv(g, "x", 3, 8, 3, pads=[1, 1, 1, 1])]), 8, 8, 3, pads=[1, 1, 1, 1])])
    d = g.op("MaxPool", [e1], kernel_shape=[2, 2], strides=[2, 2])
    e2 = g.op("Relu", [conv(g, g.op("Relu", [conv(g, d, 8, 16, 3, pads=[1, 1, 1, 1])]), 16, 16, 3, pads=[1, 1, 1, 1])])
    u = g.op("ConvTranspose", [e2, g.w([16, 8, 2, 2]), g.w([8], 0.1)], strides=[2, 2])
    c = g.op("Concat", [u, e1], axis=1)
    y = g.op("Relu", [conv(g, c, 16, 8, 3, pads=[1, 1, 1, 1])])
    out.append(("net_tiny_unet", g.model(conv(g, y, 8, 2, 1))))
    # Two graph outputs: features and logits (each written as its own .npy)
    g = G("two_outputs", [1, 3, 8, 8], 13)
    f = g.op("Relu", [conv(g, "x", 3, 8, 3, pads=[1, 1, 1, 1])])
    p = g.op("Flatten", [g.op("GlobalAveragePool", [f])])
    out.append(("net_two_outputs", g.model([f, g.op("Gemm", [p, g.w([4, 8]), g.w([4], 0.1)], transB=1)])))
    return out


# ---------------------------------------------------------------- Rejected models
def rejects():
    out = []
    g = G("reject_ops", [1, 3, 4, 4], 13)
    y = g.op("Mul", ["x", g.const(np.float32(2))])
    out.append(("reject_unsupported_ops", g.model(g.op("Resize", [y, "", g.const(np.array([1, 1, 2, 2], np.float32))]))))
    g = G("reject_softmax_axis", [1, 3, 4, 4], 13)
    out.append(("reject_softmax_axis3", g.model(g.op("Softmax", ["x"], axis=3))))
    g = G("reject_softmax_op11_4d", [1, 3, 4, 4], 11)
    out.append(("reject_softmax_op11_flatten_chw", g.model(g.op("Softmax", ["x"], axis=1))))
    g = G("reject_pad_reflect", [1, 3, 4, 4], 13)
    out.append(("reject_pad_reflect", g.model(g.op("Pad", ["x", g.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))],
                                                      mode="reflect"))))
    g = G("reject_convT_dilation", [1, 2, 4, 4], 13)
    out.append(("reject_convT_dilation", g.model(g.op("ConvTranspose", ["x", g.w([2, 2, 3, 3])], dilations=[2, 2]))))
    g = G("reject_gemm_transA", [8, 2], 13)
    out.append(("reject_gemm_transA", g.model(g.op("Gemm", ["x", g.w([8, 5])], transA=1))))
    g = G("reject_opset22", [1, 3, 4, 4], 22)
    out.append(("reject_opset22", g.model(g.op("Relu", ["x"]))))
    g = G("reject_concat_axis2", [1, 3, 4, 4], 13)
    out.append(("reject_concat_axis2", g.model(g.op("Concat", ["x", g.op("Relu", ["x"])], axis=2))))
    g = G("reject_flatten_axis2", [1, 3, 4, 4], 13)
    out.append(("reject_flatten_axis2", g.model(g.op("Flatten", ["x"], axis=2))))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ConvKitONNXTests", "Fixtures"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.out):
        if f.endswith(".onnx") or f.endswith(".npy"):
            os.remove(os.path.join(args.out, f))
    models = [m for fn in CASES for m in fn()]
    names = [n for n, _ in models]
    assert len(names) == len(set(names)), "duplicate fixture names"
    for name, m in models:
        shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
        # inputs from a per-fixture seed, so adding a case does not change the others' inputs
        x = np.random.default_rng(zlib.crc32(name.encode())).standard_normal(shape).astype(np.float32)
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        ys = sess.run(None, {"x": x})
        # record the output shapes onnxruntime produced, then validate the model
        for o, y in zip(m.graph.output, ys):
            o.type.tensor_type.shape.Clear()
            for d in y.shape:
                o.type.tensor_type.shape.dim.add().dim_value = d
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, os.path.join(args.out, name + ".onnx"))
        np.save(os.path.join(args.out, name + ".in.npy"), x)
        for i, y in enumerate(ys):
            suffix = "" if i == 0 else f".{i}"
            np.save(os.path.join(args.out, name + ".out" + suffix + ".npy"), np.ascontiguousarray(y.astype(np.float32)))
        print(f"{name:32s} in {list(x.shape)} out {[list(y.shape) for y in ys]}")
    for name, m in rejects():
        onnx.save(m, os.path.join(args.out, name + ".onnx"))
        print(f"{name:32s} (must be rejected)")
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"{len(models)} fixtures + {len(rejects())} rejected models, {total / 1e6:.2f} MB, onnx {onnx.__version__}, "
          f"onnxruntime {ort.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
