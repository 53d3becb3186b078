#pragma once

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/message.h"

namespace ferry::net {

// What a connection has to write, in order: encoded frames as text, plus
// large message bodies by reference (kept alive by their message), so a
// 64 KB body is not copied into the output and grown with it; the socket
// write gathers the pieces (writev).
class OutputQueue {
 public:
  // Bodies from this size on are referenced, smaller ones copied.
  static constexpr std::size_t kReferenceFrom = 16 * 1024;

  // Frames are appended here.
  std::string& text() { return text_; }
  // Appends `bytes` (a message body), which stay valid as long as `owner` lives.
  void add_reference(broker::MessageRef owner, std::string_view bytes);

  std::size_t size() const { return text_.size() + referenced_bytes_ + queued_text_bytes_; }
  bool empty() const { return size() == 0; }

  // One write's worth: everything queued so far, in order.
  class Batch {
   public:
    const std::vector<boost::asio::const_buffer>& buffers() const { return buffers_; }
    std::size_t size() const { return bytes_; }

   private:
    friend class OutputQueue;
    struct Piece {
      std::string text;
      broker::MessageRef owner;
      std::string_view view;
    };
    std::vector<Piece> pieces_;
    std::vector<boost::asio::const_buffer> buffers_;
    std::size_t bytes_ = 0;
  };
  void take(Batch& batch);
  // After the batch is written: its text buffers are reused.
  void recycle(Batch& batch);
  // Gives memory back (an idle connection).
  void shrink(Batch& batch);

 private:
  std::string text_;
  std::vector<Batch::Piece> queued_;  // pieces before text_
  std::size_t referenced_bytes_ = 0;
  std::size_t queued_text_bytes_ = 0;
  std::vector<std::string> spare_;     // emptied text buffers for reuse
};

}  // namespace ferry::net
