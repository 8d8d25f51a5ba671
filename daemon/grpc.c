/* SPDX-License-Identifier: MIT */
/* grpc.c — not yet built. */