#include "net/output_queue.h"

namespace ferry::net {

namespace {
constexpr std::size_t kMaxSpare = 2;
constexpr std::size_t kKeepCapacity = 4 * 1024 * 1024;  // larger text buffers are not reused
}

void OutputQueue::add_reference(broker::MessageRef owner, std::string_view bytes) {
  if (!text_.empty()) {
    queued_text_bytes_ += text_.size();
    queued_.push_back({std::move(text_), nullptr, {}});
    text_.clear();
    if (!spare_.empty()) {
      text_ = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  referenced_bytes_ += bytes.size();
  queued_.push_back({std::string(), std::move(owner), bytes});
}

void OutputQueue::take(Batch& batch) {
  batch.pieces_.clear();
  batch.pieces_.swap(queued_);
  if (!text_.empty()) {
    batch.pieces_.push_back({std::move(text_), nullptr, {}});
    text_.clear();
    if (!spare_.empty()) {
      text_ = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  referenced_bytes_ = queued_text_bytes_ = 0;
  batch.buffers_.clear();
  batch.bytes_ = 0;
  for (const auto& p : batch.pieces_) {
    if (p.owner != nullptr) batch.buffers_.emplace_back(p.view.data(), p.view.size());
    else batch.buffers_.emplace_back(p.text.data(), p.text.size());
    batch.bytes_ += batch.buffers_.back().size();
  }
}

void OutputQueue::recycle(Batch& batch) {
  for (auto& p : batch.pieces_) {
    if (p.owner == nullptr && spare_.size() < kMaxSpare && p.text.capacity() <= kKeepCapacity) {
      p.text.clear();
      spare_.push_back(std::move(p.text));
    }
  }
  batch.pieces_.clear();
  batch.buffers_.clear();
  batch.bytes_ = 0;
}

void OutputQueue::shrink(Batch& batch) {
  spare_.clear();
  spare_.shrink_to_fit();
  if (text_.empty()) std::string().swap(text_);
  std::vector<Batch::Piece>().swap(batch.pieces_);
  std::vector<boost::asio::const_buffer>().swap(batch.buffers_);
  if (queued_.empty()) std::vector<Batch::Piece>().swap(queued_);
}

}  // namespace ferry::net
