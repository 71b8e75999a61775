package cpuset

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Set
		wantErr string
	}{
		{"1", Set{1}, ""},
		{"0,2", Set{0, 2}, ""},
		{"0-3,6", Set{0, 1, 2, 3, 6}, ""},
		{" 1 , 1-2 ", Set{1, 2}, ""},
		{"", nil, `cpu list "": bad cpu number ""`},
		{"a", nil, `cpu list "a": bad cpu number "a"`},
		{"3-1", nil, `cpu list "3-1": range 3-1 is backwards`},
		{"-1", nil, `cpu list "-1": bad cpu number ""`},
		{"1024", nil, `cpu list "1024": bad cpu number "1024"`},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Parse(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if back, _ := Parse(got.String()); !reflect.DeepEqual(back, got) {
			t.Errorf("Parse(%q.String()) = %v; want %v", got, back, got)
		}
	}
}

func TestAvailable(t *testing.T) {
	s, err := Available()
	if err != nil || len(s) == 0 {
		t.Fatalf("Available() = %v, %v; want at least one CPU", s, err)
	}
}
