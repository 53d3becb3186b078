#pragma once

#include <boost/asio/buffer.hpp>

#include <vector>

namespace ferry::net {

// The buffers of one write as a buffer sequence that is cheap to copy: a
// composed write keeps a copy of its sequence, and copying the vector
// itself would allocate per write. The vector must outlive the write
// (Link::async_write promises that).
class BufferView {
 public:
  using value_type = boost::asio::const_buffer;
  using const_iterator = const boost::asio::const_buffer*;

  explicit BufferView(const std::vector<boost::asio::const_buffer>& buffers)
      : begin_(buffers.data()), end_(buffers.data() + buffers.size()) {}
  const_iterator begin() const { return begin_; }
  const_iterator end() const { return end_; }

 private:
  const_iterator begin_;
  const_iterator end_;
};

}  // namespace ferry::net
