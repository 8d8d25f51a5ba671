/* SPDX-License-Identifier: MIT */
/* pb.c — not yet built. */