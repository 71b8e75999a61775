//go:build !linux

package shard

import "github.com/concbench/concbench/result"

// ReadClock reports that this system's clock discipline is not read.
func ReadClock() result.Clock { return result.Clock{Source: "not read on this system"} }
