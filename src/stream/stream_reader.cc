#include "stream/stream_reader.h"

namespace ferry::stream {

Result<StreamReader> StreamReader::open(PartitionLog& log, const OffsetSpec& spec) {
  auto pos = log.resolve(spec);
  if (!pos) return pos.error();
  return StreamReader(log, *pos);
}

Status StreamReader::seek(const OffsetSpec& spec) {
  auto pos = log_->resolve(spec);
  if (!pos) return pos.error();
  position_ = *pos;
  return {};
}

}  // namespace ferry::stream
