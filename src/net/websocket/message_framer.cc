#include "net/websocket/message_framer.h"

#include <cstring>

#include "net/websocket/frame_codec.h"

namespace ferry::net::websocket {

namespace {
constexpr std::size_t kMaxLine = 64;  // enough to read content-length
constexpr std::string_view kContentLength = "content-length:";

const char* bytes_of(const boost::asio::const_buffer& b) { return static_cast<const char*>(b.data()); }
}  // namespace

void Utf8Validator::feed(const unsigned char* p, std::size_t n) {
  for (std::size_t i = 0; i < n && ok_; ++i) {
    const unsigned char c = p[i];
    if (need_ > 0) {
      if (c < lo_ || c > hi_) {
        ok_ = false;
        return;
      }
      lo_ = 0x80;
      hi_ = 0xBF;
      --need_;
      continue;
    }
    if (c < 0x80) continue;
    if (c >= 0xC2 && c <= 0xDF) need_ = 1;
    else if (c == 0xE0) { need_ = 2; lo_ = 0xA0; }
    else if (c == 0xED) { need_ = 2; hi_ = 0x9F; }  // no surrogates
    else if (c >= 0xE1 && c <= 0xEF) need_ = 2;
    else if (c == 0xF0) { need_ = 3; lo_ = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) need_ = 3;
    else if (c == 0xF4) { need_ = 3; hi_ = 0x8F; }
    else ok_ = false;
  }
}

void MessageFramer::header_byte(char c) {
  if (c == '\n') {
    if (!line_long_ && !line_.empty() && line_.back() == '\r') line_.pop_back();
    if (first_line_) {
      first_line_ = false;
    } else if (line_.empty() && !line_long_) {
      // The blank line: the body follows.
      if (has_length_) {
        body_left_ = content_length_;
        state_ = State::kBody;
      } else {
        state_ = State::kBodyToNul;
      }
    } else if (!has_length_ && !line_long_ && line_.size() > kContentLength.size() &&
               line_.compare(0, kContentLength.size(), kContentLength) == 0) {
      std::uint64_t n = 0;
      bool digits = true;
      for (std::size_t i = kContentLength.size(); i < line_.size(); ++i) {
        if (line_[i] < '0' || line_[i] > '9') {
          digits = false;
          break;
        }
        n = n * 10 + static_cast<std::uint64_t>(line_[i] - '0');
      }
      if (digits) {
        has_length_ = true;
        content_length_ = n;
      }
    }
    line_.clear();
    line_long_ = false;
    return;
  }
  if (line_.size() < kMaxLine) line_.push_back(c);
  else line_long_ = true;
}

bool MessageFramer::scan(const std::vector<boost::asio::const_buffer>& in, std::size_t& piece,
                         std::size_t& offset, std::vector<Span>& spans) {
  const std::size_t first = spans.size();  // this message's first span
  while (true) {
    if (piece >= in.size()) {
      // The input ends right after a frame's NUL (or its CR): the frame is
      // complete; an EOL in the next call is sent as a heart-beat.
      if (state_ == State::kTrailingEol || state_ == State::kTrailingLf) {
        state_ = State::kFrameStart;
        return true;
      }
      return false;
    }
    const char* p = bytes_of(in[piece]);
    const std::size_t size = in[piece].size();
    if (offset >= size) {
      ++piece;
      offset = 0;
      continue;
    }
    const std::size_t start = offset;
    bool ended = false;
    switch (state_) {
      case State::kFrameStart:
        // A heart-beat EOL ("\n" or "\r\n") is a message of its own;
        // anything else starts a frame.
        if (p[offset] == '\n') {
          ++offset;
          ended = true;
        } else if (p[offset] == '\r') {
          ++offset;  // the "\n" follows
        } else {
          state_ = State::kHeaders;
          first_line_ = true;
          has_length_ = false;
          line_.clear();
          line_long_ = false;
        }
        break;
      case State::kHeaders:
        while (offset < size && state_ == State::kHeaders) header_byte(p[offset++]);
        break;
      case State::kBody: {
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, size - offset));
        offset += take;
        body_left_ -= take;
        if (body_left_ == 0) state_ = State::kNul;
        break;
      }
      case State::kBodyToNul: {
        const void* nul = std::memchr(p + offset, '\0', size - offset);
        if (nul == nullptr) {
          offset = size;
        } else {
          offset = static_cast<std::size_t>(static_cast<const char*>(nul) - p) + 1;
          state_ = State::kTrailingEol;
        }
        break;
      }
      case State::kNul:
        ++offset;  // the frame's NUL (the encoder always writes it)
        state_ = State::kTrailingEol;
        break;
      case State::kTrailingEol:
        // The EOL after the NUL belongs to the frame's message.
        if (p[offset] == '\n') {
          ++offset;
          ended = true;
        } else if (p[offset] == '\r') {
          ++offset;
          state_ = State::kTrailingLf;
        } else {
          ended = true;  // the next frame starts at once
        }
        break;
      case State::kTrailingLf:
        if (p[offset] == '\n') ++offset;
        ended = true;
        break;
    }
    if (offset > start) {
      if (spans.size() > first && spans.back().piece == piece && spans.back().offset + spans.back().size == start)
        spans.back().size += offset - start;
      else
        spans.push_back({piece, start, offset - start});
    }
    if (ended) {
      state_ = State::kFrameStart;
      return true;
    }
  }
  return false;
}

void MessageFramer::frame(const std::vector<boost::asio::const_buffer>& in,
                          std::vector<boost::asio::const_buffer>& out) {
  out.clear();
  headers_.clear();
  header_sizes_.clear();
  // First pass: messages as spans of `in`, and their headers. Header bytes
  // go into headers_, whose storage must not move while `out` points into
  // it, so `out` is built in a second pass.
  struct Message {
    std::size_t first_span;
    std::size_t span_count;
  };
  std::vector<Span> spans;
  std::vector<Message> messages;
  std::size_t piece = 0, offset = 0;
  while (piece < in.size()) {
    const std::size_t first = spans.size();
    const bool continuing = fragmented_;
    const bool ended = scan(in, piece, offset, spans);
    if (spans.size() == first) break;  // nothing left
    std::uint64_t size = 0;
    for (std::size_t i = first; i < spans.size(); ++i) size += spans[i].size;
    Opcode opcode = Opcode::kContinuation;
    if (!continuing) {
      opcode = Opcode::kBinary;
      if (ended) {
        Utf8Validator utf8;
        for (std::size_t i = first; i < spans.size(); ++i)
          utf8.feed(reinterpret_cast<const unsigned char*>(bytes_of(in[spans[i].piece])) + spans[i].offset,
                    spans[i].size);
        if (utf8.valid()) opcode = Opcode::kText;
      }
    }
    fragmented_ = !ended;
    std::string h;
    append_frame_header(h, opcode, ended, size);
    std::array<char, 10> bytes{};
    std::memcpy(bytes.data(), h.data(), h.size());
    headers_.push_back(bytes);
    header_sizes_.push_back(h.size());
    messages.push_back({first, spans.size() - first});
  }
  out.reserve(spans.size() + messages.size());
  for (std::size_t m = 0; m < messages.size(); ++m) {
    out.emplace_back(headers_[m].data(), header_sizes_[m]);
    for (std::size_t i = messages[m].first_span; i < messages[m].first_span + messages[m].span_count; ++i)
      out.emplace_back(bytes_of(in[spans[i].piece]) + spans[i].offset, spans[i].size);
  }
}

}  // namespace ferry::net::websocket
