package launch

import (
	"testing"
	"time"
)

func TestTimeoutDefaults(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		in               Settings
		headers, request time.Duration
		keepAlive        time.Duration
		ok               bool
	}{
		{Settings{}, DefaultHeadersTimeout, DefaultRequestTimeout, DefaultKeepAliveTimeout, true},
		{Settings{Timeouts: Timeouts{HeadersTimeout: 300 * ms, RequestTimeout: 600 * ms, KeepAliveTimeout: 200 * ms}}, 300 * ms, 600 * ms, 200 * ms, true},
		{Settings{Timeouts: Timeouts{HeadersTimeout: time.Second, RequestTimeout: time.Second}}, time.Second, time.Second, DefaultKeepAliveTimeout, true},
		{Settings{Timeouts: Timeouts{HeadersTimeout: 2 * time.Second, RequestTimeout: time.Second}}, 0, 0, 0, false}, // Node refuses it too
		{Settings{Timeouts: Timeouts{KeepAliveTimeout: -time.Second}}, 0, 0, 0, false},
		{Settings{Timeouts: Timeouts{KeepAliveTimeout: time.Microsecond}}, 0, 0, 0, false},
		{Settings{Timeouts: Timeouts{RequestTimeout: 2 * MaxTimeout}}, 0, 0, 0, false},
	}
	for _, tt := range tests {
		got, err := tt.in.WithDefaults()
		if (err == nil) != tt.ok {
			t.Errorf("%+v.WithDefaults() error = %v; want ok %t", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (got.HeadersTimeout != tt.headers || got.RequestTimeout != tt.request || got.KeepAliveTimeout != tt.keepAlive) {
			t.Errorf("%+v.WithDefaults() timeouts = %s, %s, %s; want %s, %s, %s", tt.in, got.HeadersTimeout, got.RequestTimeout, got.KeepAliveTimeout, tt.headers, tt.request, tt.keepAlive)
		}
	}
}

// TestTimeoutsCommandLine checks that the timeouts survive Args and Parse.
func TestTimeoutsCommandLine(t *testing.T) {
	in := Command{Model: "eventloop", Settings: Settings{Timeouts: Timeouts{HeadersTimeout: 2 * time.Second, RequestTimeout: 3 * time.Second, KeepAliveTimeout: 250 * time.Millisecond}}}
	got, err := Parse(in.Args()[1:])
	if err != nil {
		t.Fatalf("Parse(%q) = %v", in.Args()[1:], err)
	}
	if got.Timeouts != in.Timeouts {
		t.Errorf("Parse(%q).Timeouts = %+v; want %+v", in.Args()[1:], got.Timeouts, in.Timeouts)
	}
}
