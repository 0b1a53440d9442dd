#!/usr/bin/env python3
"""Writes a directory tree as an initramfs: a newc ("070701") cpio archive,
uncompressed. Used by ci/linux-guest.sh because the machine has no `cpio`
tool; the format is small (Linux's Documentation/driver-api/early-userspace/
buffer-format.rst). Every entry is owned by root with mtime 0, in sorted
order, so the same inputs give the same bytes. Character devices, which
need no mknod here, are added from the command line: the kernel opens
/dev/console for init's stdio before /init can mount anything.

usage: make-cpio.py TREE OUT [--char-device PATH:MAJOR:MINOR ...]
"""
import argparse
import os
import stat
import sys


def header(ino, mode, nlink, size, name, rdev=(0, 0)):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def pad4(length):
    return b"\0" * (-length % 4)


def entry(ino, mode, name, data=b"", nlink=1, rdev=(0, 0)):
    encoded = name.encode()
    head = header(ino, mode, nlink, len(data), encoded, rdev) + encoded + b"\0"
    return head + pad4(len(head)) + data + pad4(len(data))


def tree_entries(root):
    """(archive name, lstat, data) for everything under root, parents first."""
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                data = os.readlink(path).encode()
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as f:
                    data = f.read()
            elif stat.S_ISDIR(info.st_mode):
                data = b""
            else:
                sys.exit(f"make-cpio: {path}: only files, directories and symlinks")
            yield os.path.relpath(path, root), info.st_mode, data


def main():
    parser = argparse.ArgumentParser(description="newc cpio of a directory tree")
    parser.add_argument("tree")
    parser.add_argument("out")
    parser.add_argument("--char-device", action="append", default=[], metavar="PATH:MAJOR:MINOR")
    args = parser.parse_args()
    ino = 1
    with open(args.out, "wb") as archive:
        for name, mode, data in tree_entries(args.tree):
            nlink = 2 if stat.S_ISDIR(mode) else 1
            archive.write(entry(ino, mode, name, data, nlink))
            ino += 1
        for device in args.char_device:
            path, major, minor = device.split(":")
            archive.write(entry(ino, stat.S_IFCHR | 0o600, path.lstrip("/"), rdev=(int(major), int(minor))))
            ino += 1
        archive.write(entry(0, 0, "TRAILER!!!"))


if __name__ == "__main__":
    main()
