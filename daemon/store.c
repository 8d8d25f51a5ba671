/* SPDX-License-Identifier: MIT */
/* store.c — not yet built. */
