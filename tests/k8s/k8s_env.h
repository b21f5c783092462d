/* k8s_env.h - shared set-up for C tests that run against the `k8s` fixture. */
#ifndef SPOK_TESTS_K8S_ENV_H
#define SPOK_TESTS_K8S_ENV_H

/* Loads the KEY=VALUE lines of $SPOK_K8S_ENV (written by `scripts/k8s up`) into the process
 * environment; fails the running cmocka test with a clear message when it is unavailable. */
void spok_test_k8s_env(void);

#endif
