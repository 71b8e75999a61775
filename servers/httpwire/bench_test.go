package httpwire

import "testing"

func BenchmarkParse(b *testing.B) {
	benchmarks := []struct {
		name string
		in   string
	}{
		{"simple GET", simpleGET},
		{"browser-like GET", "GET /cpu?iters=1000 HTTP/1.1\r\n" +
			"Host: localhost:8080\r\n" +
			"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
			"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
			"Accept-Language: en-US,en;q=0.5\r\n" +
			"Accept-Encoding: gzip, deflate, br\r\n" +
			"Connection: keep-alive\r\n" +
			"Cookie: session=0123456789abcdef\r\n" +
			"\r\n"},
		{"POST with body", postBody},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			var p Parser
			buf := []byte(bm.in)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := p.Parse(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("pipelined 3", func(b *testing.B) {
		var p Parser
		stream := pipelineBytes()
		b.SetBytes(int64(len(stream)))
		b.ReportAllocs()
		for b.Loop() {
			for buf := stream; len(buf) > 0; {
				_, n, err := p.Parse(buf)
				if err != nil {
					b.Fatal(err)
				}
				buf = buf[n:]
			}
		}
	})
}

func BenchmarkAppendResponse(b *testing.B) {
	dst := make([]byte, 0, 512)
	body := []byte(`{"result":42}`)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendResponse(dst[:0], 200, "application/json", body, false)
	}
}
