/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * readyz.h — kube-apiserver's readiness, as its own readinessProbe asks it:
 * GET https://<address>:<port>/readyz over TLS, the server's certificate
 * verified against the cluster CA (the file of kube-apiserver's
 * --client-ca-file, kubeadm's /etc/kubernetes/pki/ca.crt, which signs its
 * serving certificate) and for the name "kubernetes", which every
 * kube-apiserver serving certificate carries (kubeadm's has no 127.0.0.1),
 * while the connection goes to address. Blocking (libcurl); no logging.
 */

#include <stdint.h>

/* The name verified in kube-apiserver's certificate. */
#define READYZ_SERVER_NAME "kubernetes"

/* One probe of https://address:port/readyz (address: an IPv4 or IPv6
 * literal) within timeout_usec, the server verified against the CA file
 * cacert. Returns 1 when it answered 200, 0 when it answered something else
 * or could not be reached (*ret_why says which: "HTTP 500", "connection
 * refused", a TLS verification failure; caller frees), -ENOMEM, or -ENOENT
 * when libcurl cannot be loaded (*ret_why says why). */
int readyz_probe(const char *address, uint16_t port, const char *cacert, uint64_t timeout_usec, char **ret_why);
