# ruby-stomp (Debian ruby-stomp, Stomp::Connection) scripted for Ferry's
# integration tests (test_more_clients.py). Usage: ruby stomp_client.rb '<json>'
#   port        the broker's STOMP port
#   version     accept-version (default "1.2")
#   subscribe   {destination, ack, headers} (optional; subscribed with a receipt)
#   send        [{destination, body, headers}], each SEND with a receipt
#   expect      MESSAGEs to wait for (default 0); ack: true acks each one
#   timeout     seconds for the whole run (default 10)
# Prints one JSON line per event (connected, subscribed, receipt, message,
# done, error) and exits 0 when everything expected happened.
require 'json'
require 'timeout'
require 'stomp'

cfg = JSON.parse(ARGV[0])
$stdout.sync = true
def out(h) = puts(JSON.generate(h))

begin
  Timeout.timeout(cfg.fetch('timeout', 10)) do
    conn = Stomp::Connection.new(
      hosts: [{ login: 'guest', passcode: 'guest', host: '127.0.0.1', port: cfg['port'] }],
      connect_headers: { 'accept-version' => cfg.fetch('version', '1.2'), 'host' => '/',
                         'heart-beat' => '0,0' },
      reliable: false, connect_timeout: 5, connread_timeout: 5)
    raise "not connected: #{conn.connection_frame.inspect}" unless conn.open?
    cf = conn.connection_frame
    out(event: 'connected', command: cf.command, headers: cf.headers)

    pending = []   # MESSAGEs read while waiting for a RECEIPT
    # Reads frames until RECEIPT rid; an ERROR ends the run.
    wait_receipt = lambda do |rid|
      loop do
        f = conn.receive
        raise 'connection closed' if f.nil?
        raise "ERROR #{f.headers.inspect} #{f.body}" if f.command == 'ERROR'
        return f if f.command == 'RECEIPT' && f.headers['receipt-id'] == rid
        pending << f if f.command == 'MESSAGE'
      end
    end

    if (sub = cfg['subscribe'])
      headers = (sub['headers'] || {}).merge('ack' => sub.fetch('ack', 'auto'), 'receipt' => 'sub-r')
      conn.subscribe(sub['destination'], headers, 'sub-1')
      wait_receipt.call('sub-r')
      out(event: 'subscribed')
    end
    (cfg['send'] || []).each_with_index do |m, i|
      rid = "send-r#{i}"
      conn.publish(m['destination'], m['body'], (m['headers'] || {}).merge('receipt' => rid))
      wait_receipt.call(rid)
      out(event: 'receipt', 'receipt-id' => rid)
    end
    got = 0
    while got < cfg.fetch('expect', 0)
      f = pending.shift || conn.receive
      raise 'connection closed' if f.nil?
      raise "ERROR #{f.headers.inspect} #{f.body}" if f.command == 'ERROR'
      next unless f.command == 'MESSAGE'
      got += 1
      out(event: 'message', headers: f.headers, body: f.body)
      if cfg['ack']
        # 1.2: the MESSAGE's ack header; 1.1: message-id + subscription
        if conn.protocol == Stomp::SPL_12
          conn.ack(f.headers['ack'])
        else
          conn.ack(f.headers['message-id'], 'subscription' => f.headers['subscription'])
        end
      end
    end
    conn.disconnect('receipt' => 'bye')
    out(event: 'done', disconnect_receipt: conn.disconnect_receipt&.headers&.fetch('receipt-id', nil))
  end
rescue Timeout::Error
  out(event: 'error', what: 'timeout')
  exit 2
rescue StandardError => e
  out(event: 'error', what: e.message)
  exit 1
end
