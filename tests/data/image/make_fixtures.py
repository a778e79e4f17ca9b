#!/usr/bin/env python3
"""Writes the image-task fixtures (run from this folder). Independent of the engine: plain struct/gzip.

cifar/cifar-10-batches-bin/  data_batch_1.bin (3 records), data_batch_2..5.bin (1 each), test_batch.bin (2)
bad/                         truncated.bin (a record + 100 bytes), label.bin (record 1 has label 10)
fashion/                     {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz: 12 / 3 images of 28x28
idx/                         small-{images-idx3,labels-idx1}-ubyte plain and .gz (3 images, same content),
                             bad-magic-idx3-ubyte, truncated-images-idx3-ubyte, bad-label-idx1-ubyte,
                             truncated-images-idx3-ubyte.gz (a gzip stream cut short)
mismatch/                    train-images-idx3-ubyte (3 images) with train-labels-idx1-ubyte (2 labels);
                             a valid t10k pair
"""
import gzip
import os
import struct

# Record 0 of data_batch_1 starts with pixels whose grayscale the test computes by hand.
SPECIAL = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (100, 150, 200), (255, 46, 7)]


def cifar_record(label, k):
    r = bytearray((x * 8 + y + k * 11) % 256 for y in range(32) for x in range(32))
    g = bytearray((x * 3 + y * 5 + k * 7) % 256 for y in range(32) for x in range(32))
    b = bytearray((255 - x * 4 - y * 2 + k) % 256 for y in range(32) for x in range(32))
    if k == 0:
        for i, (pr, pg, pb) in enumerate(SPECIAL):
            r[i], g[i], b[i] = pr, pg, pb
    return bytes([label]) + bytes(r) + bytes(g) + bytes(b)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


def idx_images(images, rows=28, cols=28, magic=0x803, count=None):
    n = len(images) if count is None else count
    return struct.pack(">IIII", magic, n, rows, cols) + b"".join(images)


def idx_labels(labels, count=None):
    n = len(labels) if count is None else count
    return struct.pack(">II", 0x801, n) + bytes(labels)


def mnist_image(i):
    return bytes((i * 37 + y * 7 + x * 3) % 256 for y in range(28) for x in range(28))


base = "cifar/cifar-10-batches-bin/"
write(base + "data_batch_1.bin", cifar_record(3, 0) + cifar_record(0, 1) + cifar_record(9, 2))
for n, label in zip(range(2, 6), [1, 2, 4, 5]):
    write(base + "data_batch_%d.bin" % n, cifar_record(label, n + 1))
write(base + "test_batch.bin", cifar_record(6, 7) + cifar_record(7, 8))
write("bad/truncated.bin", cifar_record(1, 0) + cifar_record(2, 1)[:100])
write("bad/label.bin", cifar_record(1, 0) + cifar_record(10, 1))

write("fashion/train-images-idx3-ubyte.gz", gz(idx_images([mnist_image(i) for i in range(12)])))
write("fashion/train-labels-idx1-ubyte.gz", gz(idx_labels([i % 10 for i in range(12)])))
write("fashion/t10k-images-idx3-ubyte.gz", gz(idx_images([mnist_image(100 + i) for i in range(3)])))
write("fashion/t10k-labels-idx1-ubyte.gz", gz(idx_labels([9, 8, 7])))

small = idx_images([mnist_image(i) for i in range(3)])
write("idx/small-images-idx3-ubyte", small)
write("idx/small-images-idx3-ubyte.gz", gz(small))
write("idx/small-labels-idx1-ubyte", idx_labels([4, 0, 9]))
write("idx/small-labels-idx1-ubyte.gz", gz(idx_labels([4, 0, 9])))
write("idx/bad-magic-idx3-ubyte", idx_images([mnist_image(0)], magic=0x804))
write("idx/truncated-images-idx3-ubyte", small[: 16 + 784 * 2 + 300])
write("idx/truncated-images-idx3-ubyte.gz", gz(small)[:200])
write("idx/bad-label-idx1-ubyte", idx_labels([1, 10, 2]))

write("mismatch/train-images-idx3-ubyte", small)
write("mismatch/train-labels-idx1-ubyte", idx_labels([1, 2]))
write("mismatch/t10k-images-idx3-ubyte", small)
write("mismatch/t10k-labels-idx1-ubyte", idx_labels([4, 0, 9]))
