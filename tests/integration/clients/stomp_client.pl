# Perl Net::Stomp (Debian libnet-stomp-perl) scripted for Ferry's integration
# tests (test_more_clients.py). Usage: perl stomp_client.pl '<json>' with the
# same keys as stomp_client.rb: port, subscribe {destination, ack, headers},
# send [{destination, body, headers}] (with receipts), expect, ack,
# timeout. Net::Stomp speaks STOMP 1.0 (its ack sends only message-id), as
# its users run it. Prints one JSON line per event; exits 0 when everything
# expected happened.
use strict;
use warnings;
use Encode qw(encode decode);
use JSON::PP;
use Net::Stomp;

my $cfg = decode_json($ARGV[0]);
my $json = JSON::PP->new->canonical;
$| = 1;
binmode STDOUT, ":encoding(UTF-8)";
sub out { print $json->encode($_[0]), "\n" }

my $timeout = $cfg->{timeout} // 10;
$SIG{ALRM} = sub { out({ event => 'error', what => 'timeout' }); exit 2 };
alarm $timeout;

my $ok = eval {
    my $stomp = Net::Stomp->new({ hostname => '127.0.0.1', port => $cfg->{port},
                                  timeout => 5, reconnect_attempts => 1,
                                  initial_reconnect_attempts => 1 });
    my $cf = $stomp->connect({ login => 'guest', passcode => 'guest' });
    die 'not connected: ' . ($cf ? $cf->as_string : 'no frame') unless $cf && $cf->command eq 'CONNECTED';
    out({ event => 'connected', command => $cf->command, headers => $cf->headers });

    my @pending;    # MESSAGEs read while waiting for a RECEIPT
    my $wait_receipt = sub {
        my ($rid) = @_;
        while (1) {
            my $f = $stomp->receive_frame({ timeout => 5 }) or die "no RECEIPT $rid";
            die 'ERROR ' . $f->as_string if $f->command eq 'ERROR';
            return $f if $f->command eq 'RECEIPT' && $f->headers->{'receipt-id'} eq $rid;
            push @pending, $f if $f->command eq 'MESSAGE';
        }
    };

    if (my $sub = $cfg->{subscribe}) {
        $stomp->subscribe({ %{ $sub->{headers} // {} }, destination => $sub->{destination},
                            ack => $sub->{ack} // 'auto', receipt => 'sub-r' });
        $wait_receipt->('sub-r');
        out({ event => 'subscribed' });
    }
    my $i = 0;
    for my $m (@{ $cfg->{send} // [] }) {
        my %frame = (%{ $m->{headers} // {} }, destination => $m->{destination},
                     body => encode('UTF-8', $m->{body}));
        if ($cfg->{subscribe}) {
            # send_with_receipt() takes the next frame for the RECEIPT; on a
            # consuming connection that may be a MESSAGE: wait ourselves
            $stomp->send({ %frame, receipt => "send-r$i" });
            $wait_receipt->("send-r$i");
            out({ event => 'receipt', 'receipt-id' => "send-r$i" });
        } else {
            my $receipt;
            $stomp->send_with_receipt({ %frame, timeout => 5 }, $receipt)
                or die 'send_with_receipt failed: ' . ($receipt ? $receipt->as_string : 'no frame');
            out({ event => 'receipt', 'receipt-id' => $receipt->headers->{'receipt-id'} });
        }
        $i++;
    }
    my $got = 0;
    while ($got < ($cfg->{expect} // 0)) {
        my $f = shift(@pending) // $stomp->receive_frame({ timeout => 5 }) or die 'no MESSAGE';
        die 'ERROR ' . $f->as_string if $f->command eq 'ERROR';
        next unless $f->command eq 'MESSAGE';
        $got++;
        # bodies travel as UTF-8 bytes; JSON wants characters
        out({ event => 'message', headers => $f->headers, body => decode('UTF-8', $f->body) });
        $stomp->ack({ frame => $f }) if $cfg->{ack};
    }
    $stomp->send_frame(Net::Stomp::Frame->new({ command => 'DISCONNECT', headers => { receipt => 'bye' } }));
    my $r = $stomp->receive_frame({ timeout => 5 });
    out({ event => 'done', disconnect_receipt => $r ? $r->headers->{'receipt-id'} : undef });
    1;
};
unless ($ok) {
    my $e = $@;
    chomp $e;
    out({ event => 'error', what => $e });
    exit 1;
}
