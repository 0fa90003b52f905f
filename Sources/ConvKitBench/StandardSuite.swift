// The standard layer suite, embedded so `convkit bench` runs with no files
// around.  This is exactly the data of Benchmarks/layers.tsv (a test checks it).

extension BenchSuite {
    /// The text of the standard suite (identical to `Benchmarks/layers.tsv`).
    public static let standardText: String = """
# ConvKit standard layer suite. One convolution or pooling layer a line, FP32.
# kind	name	N	C	H	W	K	R	S	stride	pad	groups
conv	resnet18.conv1	1	3	224	224	64	7	7	2	3	1
conv	resnet18.l1.3x3	1	64	56	56	64	3	3	1	1	1
conv	resnet18.l2.3x3s2	1	64	56	56	128	3	3	2	1	1
conv	resnet18.l2.1x1s2	1	64	56	56	128	1	1	2	0	1
conv	resnet18.l2.3x3	1	128	28	28	128	3	3	1	1	1
conv	resnet18.l3.3x3	1	256	14	14	256	3	3	1	1	1
conv	resnet18.l4.3x3	1	512	7	7	512	3	3	1	1	1
conv	resnet18.l1.3x3.b8	8	64	56	56	64	3	3	1	1	1
conv	vgg16.conv1_2	1	64	224	224	64	3	3	1	1	1
conv	vgg16.conv3_2	1	256	56	56	256	3	3	1	1	1
conv	vgg16.conv5_2	1	512	14	14	512	3	3	1	1	1
conv	alexnet.conv1	1	3	227	227	96	11	11	4	0	1
conv	resnet50.1x1expand	1	64	56	56	256	1	1	1	0	1
conv	mobilenetv2.pw112	1	32	112	112	16	1	1	1	0	1
conv	mobilenetv2.pw56	1	144	56	56	24	1	1	1	0	1
conv	mobilenetv2.pw7	1	960	7	7	320	1	1	1	0	1
conv	mobilenetv2.dw112	1	32	112	112	32	3	3	1	1	32
conv	mobilenetv2.dw112s2	1	96	112	112	96	3	3	2	1	96
conv	mobilenetv2.dw56	1	144	56	56	144	3	3	1	1	144
conv	mobilenetv2.dw7	1	960	7	7	960	3	3	1	1	960
conv	lenet5.c1	1	1	32	32	6	5	5	1	0	1
maxpool	resnet18.maxpool	1	64	112	112	64	3	3	2	1	64
maxpool	vgg16.pool1	1	64	224	224	64	2	2	2	0	64
avgpool	resnet18.gap	1	512	7	7	512	7	7	1	0	512

"""
}
