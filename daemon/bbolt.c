/* SPDX-License-Identifier: MIT */
/* bbolt.c — not yet built. */