#pragma once

#include <string_view>

// Every ERROR `message` text a STOMP session sends, in one place (those the
// connection layer closes with are in net/errors.h). Limit errors name the
// option that sets the limit.
namespace ferry::session::errors {

inline constexpr std::string_view kNotConnected = "not connected: send CONNECT first";
inline constexpr std::string_view kAlreadyConnected = "already connected";
inline constexpr std::string_view kUnsupportedVersion = "unsupported STOMP version";
inline constexpr std::string_view kBadHeartBeat = "invalid heart-beat header";
inline constexpr std::string_view kServerFrame = "frame not accepted from clients";
// RabbitMQ's words where clients and alert rules match them (the body says
// more): "Missing destination", "Unknown destination", "Invalid header".
inline constexpr std::string_view kMissingDestination = "Missing destination";
inline constexpr std::string_view kUnknownDestination = "Unknown destination";
inline constexpr std::string_view kReservedHeader = "Invalid header";
// A header Ferry cannot honour yet, named in the body (never silently
// ignored: docs/dialects.md).
inline constexpr std::string_view kUnsupportedHeader = "unsupported header";
// A SEND to a stream inside a transaction (streams: docs/streams.md).
// /amq/queue/NAME of a queue that does not exist (RabbitMQ: message
// "not_found", body "NOT_FOUND - no queue 'NAME' in vhost '/'").
inline constexpr std::string_view kNotFound = "not_found";
// RabbitMQ's code for a refused exchange operation (publishing to an internal one).
inline constexpr std::string_view kExchangeAccessRefused = "access_refused";
// ActiveMQ's composite destinations (/queue/a,/queue/b): more elements than
// max-composite-destinations; a SUBSCRIBE to one (SEND only, for now).
inline constexpr std::string_view kCompositeTooLarge =
    "too many elements in a composite destination (max-composite-destinations)";
inline constexpr std::string_view kCompositeSubscribe =
    "composite destinations are for SEND only: subscribe to each element";
inline constexpr std::string_view kMissingId = "missing id header";
inline constexpr std::string_view kDuplicateSubscription = "duplicate subscription id";
inline constexpr std::string_view kUnknownSubscription = "unknown subscription id";
inline constexpr std::string_view kTooManySubscriptions =
    "too many subscriptions on this connection (max-subscriptions)";
inline constexpr std::string_view kBadAckMode = "invalid ack mode";
inline constexpr std::string_view kBadWindow = "invalid prefetch/window header";
inline constexpr std::string_view kBadDurable = "invalid durable subscription request";
inline constexpr std::string_view kBadBrowser = "invalid browser subscription";
// An invalid selector: selector::kInvalidSelector (selector/selector.h).
inline constexpr std::string_view kMissingAckId = "ACK/NACK without id, ack or message-id header";
inline constexpr std::string_view kUnknownAckId = "ACK/NACK of an unknown or already acknowledged message";
inline constexpr std::string_view kMissingTransaction = "missing transaction header";
inline constexpr std::string_view kUnknownTransaction = "unknown transaction";
inline constexpr std::string_view kDuplicateTransaction = "transaction already begun";
inline constexpr std::string_view kTooManyTransactions =
    "too many open transactions on this connection (max-transactions)";
inline constexpr std::string_view kTransactionTooLarge =
    "too many frames in one transaction (max-transaction-size)";
inline constexpr std::string_view kBadPriority = "invalid priority header (0-9)";
inline constexpr std::string_view kBadExpires = "invalid expires header (ms since epoch)";
inline constexpr std::string_view kBadExpiration = "invalid expiration header (a per-message TTL in ms)";
// Scheduled delivery (docs/dialects.md): more messages waiting for their
// due time than max-scheduled-messages.
inline constexpr std::string_view kScheduledLimit = "scheduled message limit reached (max-scheduled-messages)";
// Followed by the header's name: "invalid boolean header persistent".
inline constexpr std::string_view kBadBoolean = "invalid boolean header";

// Logins and permissions (docs/security.md). One text for an unknown user
// and a wrong passcode.
inline constexpr std::string_view kAccessRefused = "access refused: wrong login or passcode";
inline constexpr std::string_view kLoopbackOnly =
    "access refused: this user may connect from the broker's own machine only (loopback-users)";
inline constexpr std::string_view kNoVhostAccess = "access refused: no permissions on this vhost";
inline constexpr std::string_view kTooManyLoginFailures =
    "access refused: too many failed logins from this address (max-login-failures); try again later";
inline constexpr std::string_view kLoginBusy = "server busy: too many logins waiting to be checked; try again";
inline constexpr std::string_view kWriteRefused = "access refused: write permission needed (SEND)";
inline constexpr std::string_view kReadRefused = "access refused: read permission needed (SUBSCRIBE)";
// A second connection with a connected client-id (the message header is
// ActiveMQ's "Broker: ... - Client: ID already connected from ..."; this
// text starts the body).
inline constexpr std::string_view kClientIdInUse = "client-id already connected";
inline constexpr std::string_view kConfigureRefused =
    "access refused: configure permission needed (creating or deleting a destination)";

}  // namespace ferry::session::errors
