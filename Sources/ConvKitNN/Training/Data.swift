import ConvKit
import Foundation

/// A labelled image data set held in memory: `count` images of `channels x
/// height x width` floats (NCHW order, contiguous) and one class label each.
public struct Dataset: Sendable {
    /// The images, `count * channels * height * width` floats.
    public var images: [Float]
    /// The class labels, one per image.
    public var labels: [Int32]
    /// Channels per image.
    public let channels: Int
    /// Image height.
    public let height: Int
    /// Image width.
    public let width: Int
    /// The number of classes (labels are in `0 ..< classes`).
    public let classes: Int

    /// Creates a data set.
    ///
    /// - Throws: `ConvKitError` `.invalidShape` if the counts disagree, `.invalidArgument` for a label out of range.
    public init(images: [Float], labels: [Int32], channels: Int, height: Int, width: Int, classes: Int) throws {
        let size = channels * height * width
        guard size > 0, images.count == labels.count * size else {
            throw ConvKitError(code: .invalidShape, message:
                "\(images.count) floats for \(labels.count) images of \(channels)x\(height)x\(width)")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 || Int($0) >= classes }) {
            throw ConvKitError(code: .invalidArgument, message: "label \(labels[bad]) of image \(bad) is not in 0..<\(classes)")
        }
        self.images = images
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classes = classes
    }

    /// The number of images.
    public var count: Int { labels.count }
    /// Floats per image.
    public var imageSize: Int { channels * height * width }

    /// The images at `range` (in order).
    public func subset(_ range: Range<Int>) throws -> Dataset {
        try Dataset(images: Array(images[(range.lowerBound * imageSize)..<(range.upperBound * imageSize)]),
                    labels: Array(labels[range]), channels: channels, height: height, width: width, classes: classes)
    }

    /// A batch of the images at `indices` (an NCHW tensor) and their labels, optionally augmented.
    public func batch(_ indices: [Int], augmentation: Augmentation? = nil,
                      generator: inout SeededGenerator) throws -> (images: Tensor, labels: [Int32]) {
        var out = [Float](repeating: 0, count: indices.count * imageSize)
        for (b, i) in indices.enumerated() {
            let src = images[(i * imageSize)..<((i + 1) * imageSize)]
            if let augmentation {
                let aug = augmentation.apply(Array(src), channels: channels, height: height, width: width,
                                             generator: &generator)
                out.replaceSubrange((b * imageSize)..<((b + 1) * imageSize), with: aug)
            } else {
                out.replaceSubrange((b * imageSize)..<((b + 1) * imageSize), with: src)
            }
        }
        return (try Tensor(shape: TensorShape(n: indices.count, c: channels, h: height, w: width), values: out),
                indices.map { labels[$0] })
    }
}

/// Random data augmentation applied per image when a batch is drawn.
public struct Augmentation: Sendable, Hashable {
    /// Random crop with zero padding: pad by this many pixels, then crop back to
    /// the original size at a random offset (0 = off).
    public var cropPadding: Int
    /// Mirror horizontally with probability 1/2.
    public var horizontalFlip: Bool
    /// Add a uniform random shift in `-brightness ... brightness` to every pixel (0 = off).
    public var brightness: Float
    /// Add a uniform random shift in `-colorShift ... colorShift` per channel (0 = off).
    public var colorShift: Float

    /// Creates an augmentation (all off by default).
    public init(cropPadding: Int = 0, horizontalFlip: Bool = false, brightness: Float = 0, colorShift: Float = 0) {
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
        self.brightness = brightness
        self.colorShift = colorShift
    }

    /// Augments one `channels x height x width` image.
    public func apply(_ image: [Float], channels: Int, height: Int, width: Int,
                      generator g: inout SeededGenerator) -> [Float] {
        var out = image
        if cropPadding > 0 {
            let span = 2 * cropPadding + 1
            let dy = Int(g.next() % UInt64(span)) - cropPadding
            let dx = Int(g.next() % UInt64(span)) - cropPadding
            out = [Float](repeating: 0, count: image.count)
            for c in 0..<channels {
                for h in 0..<height {
                    let sh = h + dy
                    guard sh >= 0, sh < height else { continue }
                    for w in 0..<width {
                        let sw = w + dx
                        guard sw >= 0, sw < width else { continue }
                        out[(c * height + h) * width + w] = image[(c * height + sh) * width + sw]
                    }
                }
            }
        }
        if horizontalFlip, g.next() & 1 == 1 {
            for c in 0..<channels {
                for h in 0..<height {
                    let row = (c * height + h) * width
                    out[row..<(row + width)].reverse()
                }
            }
        }
        if brightness > 0 || colorShift > 0 {
            let shift = brightness > 0 ? (g.nextUnit() * 2 - 1) * brightness : 0
            for c in 0..<channels {
                let channelShift = shift + (colorShift > 0 ? (g.nextUnit() * 2 - 1) * colorShift : 0)
                for k in (c * height * width)..<((c + 1) * height * width) { out[k] += channelShift }
            }
        }
        return out
    }
}

/// Batches of a data set, shuffled per epoch from a seed (reproducible), optionally augmented.
///
/// ```swift
/// let loader = DataLoader(train, batchSize: 32, shuffle: true, seed: 1,
///                         augmentation: Augmentation(cropPadding: 1))
/// for (x, labels) in try loader.batches(epoch: 0) { ... }
/// ```
public struct DataLoader: Sendable {
    /// The data.
    public let dataset: Dataset
    /// Images per batch.
    public let batchSize: Int
    /// Shuffle the order every epoch.
    public let shuffle: Bool
    /// Seed of the shuffles and augmentations.
    public let seed: UInt64
    /// Augmentation applied to every drawn image (nil = none).
    public let augmentation: Augmentation?
    /// Drop the last incomplete batch.
    public let dropLast: Bool

    /// Creates a loader.
    public init(_ dataset: Dataset, batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0,
                augmentation: Augmentation? = nil, dropLast: Bool = false) {
        self.dataset = dataset
        self.batchSize = max(batchSize, 1)
        self.shuffle = shuffle
        self.seed = seed
        self.augmentation = augmentation
        self.dropLast = dropLast
    }

    /// The image order of `epoch`.
    public func order(epoch: Int) -> [Int] {
        var indices = Array(0..<dataset.count)
        if shuffle {
            var g = SeededGenerator(seed: mixSeed(seed, epoch))
            indices.shuffle(using: &g)
        }
        return indices
    }

    /// The number of batches per epoch.
    public var batchCount: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// The batches of `epoch`.
    public func batches(epoch: Int) throws -> [(images: Tensor, labels: [Int32])] {
        let order = order(epoch: epoch)
        var g = SeededGenerator(seed: mixSeed(seed &+ 0x5EED, epoch))
        var out: [(Tensor, [Int32])] = []
        for b in 0..<batchCount {
            let idx = Array(order[(b * batchSize)..<min((b + 1) * batchSize, order.count)])
            out.append(try dataset.batch(idx, augmentation: augmentation, generator: &g))
        }
        return out
    }
}

// MARK: - The digits data set

extension Dataset {
    /// Reads the 8x8 handwritten digits (UCI, as bundled by scikit-learn; see
    /// `Datasets/digits/LICENSE.md`): one image per line, 64 pixel values 0...16
    /// then the label. Pixels are scaled to `0...1`.
    ///
    /// - Throws: `ConvKitError` `.invalidArgument` naming the line on malformed input;
    ///   Foundation's error if the file cannot be read.
    public static func digits(contentsOf url: URL) throws -> Dataset {
        let text = try String(contentsOf: url, encoding: .utf8)
        var images: [Float] = []
        var labels: [Int32] = []
        images.reserveCapacity(1797 * 64)
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",")
            guard fields.count == 65 else {
                throw ConvKitError(code: .invalidArgument, message: "digits line \(n + 1): \(fields.count) fields, expected 65")
            }
            for f in fields.dropLast() {
                guard let v = Float(f.trimmingCharacters(in: .whitespaces)) else {
                    throw ConvKitError(code: .invalidArgument, message: "digits line \(n + 1): bad value '\(f)'")
                }
                images.append(v / 16)
            }
            guard let label = Int32(fields[64].trimmingCharacters(in: .whitespaces)) else {
                throw ConvKitError(code: .invalidArgument, message: "digits line \(n + 1): bad label '\(fields[64])'")
            }
            labels.append(label)
        }
        return try Dataset(images: images, labels: labels, channels: 1, height: 8, width: 8, classes: 10)
    }

    /// The fixed split used by ConvKit's demo: the first 1,437 images train, the last 360 test.
    public func digitsSplit() throws -> (train: Dataset, test: Dataset) {
        let cut = count - 360
        return (try subset(0..<cut), try subset(cut..<count))
    }

    /// Where the digits file is looked for: `Datasets/digits/digits.csv` under the
    /// current directory and its parents, then under the parents of `near` (e.g. an executable's path).
    public static func locateDigits(near: URL? = nil) -> URL? {
        let relative = "Datasets/digits/digits.csv"
        var starts = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        if let near { starts.append(near.deletingLastPathComponent()) }
        for start in starts {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                let candidate = dir.appendingPathComponent(relative)
                if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }
}
