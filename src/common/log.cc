#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace ferry {

bool init_logging(std::string_view level) {
  spdlog::level::level_enum lvl;
  if (level == "trace") lvl = spdlog::level::trace;
  else if (level == "debug") lvl = spdlog::level::debug;
  else if (level == "info") lvl = spdlog::level::info;
  else if (level == "warn") lvl = spdlog::level::warn;
  else if (level == "error") lvl = spdlog::level::err;
  else return false;
  auto logger = spdlog::stderr_logger_mt("ferry");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return true;
}

}  // namespace ferry
