/* log.h - leveled logging to stderr.
 *
 * Level comes from SPOK_LOG (error|warn|info|debug; default warn) or spok_log_set_level.
 * Never pass a secret (token, key, password) to these; log that one was used, not its value.
 */
#ifndef SPOK_COMMON_LOG_H
#define SPOK_COMMON_LOG_H

enum spok_log_level { SPOK_LOG_ERROR, SPOK_LOG_WARN, SPOK_LOG_INFO, SPOK_LOG_DEBUG };

void spok_log_set_level(enum spok_log_level level);
enum spok_log_level spok_log_get_level(void);
void spok_log(enum spok_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) spok_log(SPOK_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) spok_log(SPOK_LOG_WARN, __VA_ARGS__)
#define log_info(...) spok_log(SPOK_LOG_INFO, __VA_ARGS__)
#define log_debug(...) spok_log(SPOK_LOG_DEBUG, __VA_ARGS__)

#endif
