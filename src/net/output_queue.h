#pragma once

#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "broker/message.h"

namespace ferry::net {

// What a connection has to write, in order: encoded frames as text, plus
// message bytes by reference (kept alive by their message), so that a body
// fanned out to many subscribers is not copied into each one's output: the
// socket write gathers the pieces (writev). The text stays one buffer
// whatever the number of references (each remembers where in the text it
// goes), so queuing allocates nothing once the buffers have grown.
class OutputQueue {
 public:
  // Message bytes from this size on are referenced, smaller ones copied: below
  // it the reference (a count on the message, one more iovec) costs about
  // what the copy saves.
  static constexpr std::size_t kReferenceFrom = 512;

  // Frames are appended here.
  std::string& text() { return text_; }
  // Appends `bytes` (part of a message), which stay valid as long as `owner` lives.
  void add_reference(broker::MessageRef owner, std::string_view bytes);

  std::size_t size() const { return text_.size() + referenced_bytes_; }
  bool empty() const { return size() == 0; }

  struct Reference {
    std::size_t at;  // offset in the text before which `bytes` go
    broker::MessageRef owner;
    std::string_view bytes;
  };

  // One write's worth: everything queued so far, in order.
  class Batch {
   public:
    const std::vector<boost::asio::const_buffer>& buffers() const { return buffers_; }
    std::size_t size() const { return bytes_; }

   private:
    friend class OutputQueue;
    std::string text_;
    std::vector<Reference> references_;
    std::vector<boost::asio::const_buffer> buffers_;
    std::size_t bytes_ = 0;
  };
  // Moves everything queued into `batch` (which must have been recycled
  // since its last take); the queue keeps the batch's emptied buffers.
  void take(Batch& batch);
  // After the batch is written: references are released, buffers kept.
  void recycle(Batch& batch);
  // Gives memory back (an idle connection).
  void shrink(Batch& batch);

 private:
  std::string text_;
  std::vector<Reference> references_;
  std::size_t referenced_bytes_ = 0;
};

}  // namespace ferry::net
