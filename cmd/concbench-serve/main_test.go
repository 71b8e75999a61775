package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/concbench/concbench/launch"
)

// TestServe: the servers' own binary serves a model as `concbench serve`
// does — announce, answer /plain, stop cleanly on cancel — and refuses bad
// command lines with exit 2.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, pw, io.Discard, []string{launch.Subcommand, "--model", "goroutine", "--addr", "127.0.0.1:0"})
		_ = pw.Close()
	}()
	var a launch.Announced
	br := bufio.NewReader(pr)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("no announce line: %v", err)
		}
		if a.Scan(line) {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, br) }()
	resp, err := http.Get("http://" + a.Addr + "/plain")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("/plain: %d %q", resp.StatusCode, body)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit %d after cancel, want 0", c)
	}
}

func TestBadCommandLines(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", nil, 2, "usage: concbench-serve serve"},
		{"other subcommand", []string{"run"}, 2, "usage: concbench-serve serve"},
		{"unknown model", []string{"serve", "--model", "nope"}, 2, `unknown model "nope"`},
		{"unknown flag", []string{"serve", "--nope"}, 2, "flag provided but not defined"},
		{"help", []string{"serve", "-h"}, 0, ""},
		{"help alone", []string{"--help"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if c := run(t.Context(), io.Discard, &stderr, tc.args); c != tc.code {
				t.Fatalf("exit %d, want %d (stderr %q)", c, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") > 1 {
				t.Fatalf("stderr %q, want one line with %q", stderr.String(), tc.want)
			}
		})
	}
}
