#!/usr/bin/env bash
# Installs everything Umbra needs to build and test on Debian 12 (as root, or
# through sudo). `apt-get update` may fail while one mirror index is
# mid-sync; that is harmless, so it must not stop the install.
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO dpkg --add-architecture i386 || true
$SUDO apt-get update || true
$SUDO apt-get install -y --no-install-recommends \
    build-essential cmake pkg-config nasm check gcc-multilib \
    libsdl2-dev libslirp-dev cpio gzip \
    seabios libpng-dev xvfb x11-apps xdotool python3
# qemu-img and qemu-io create and check the qcow2 images of the storage tests;
# mke2fs/debugfs/e2fsck and cpio build and inspect the Linux storage test's media.
$SUDO apt-get install -y --no-install-recommends qemu-utils e2fsprogs cpio
# syslinux/mtools/dosfstools: the bench kit's make-disk.sh (linux.disk);
# xorriso, isolinux, syslinux-common: the El Torito ISO of linux.cdrom.
$SUDO apt-get install -y --no-install-recommends syslinux syslinux-common mtools dosfstools \
    xorriso isolinux
