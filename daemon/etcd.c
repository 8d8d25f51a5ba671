/* SPDX-License-Identifier: MIT */
/* etcd.c — not yet built. */
