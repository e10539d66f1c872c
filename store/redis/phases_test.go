package redis_test

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/store/redis"
	"github.com/pbxbridge/pbxbridge/store/redis/redistest"
	"github.com/pbxbridge/pbxbridge/translate"
)

// BenchmarkOutboxPhases splits an outbox entry's cost by phase, on both sides of the
// connection: b.N entries of one call each (the usual case) are enqueued in 100s, claimed in
// 12s (as a worker of 8 claims), and acknowledged from 8 goroutines (so in groups), with
// redis-server's CPU and this process's per entry in each phase. Redis runs with
// appendonly yes, appendfsync everysec, as operators are told to run it.
//
//	go test ./store/redis -run '^$' -bench OutboxPhases -benchtime 20000x
func BenchmarkOutboxPhases(b *testing.B) {
	s := redistest.Standalone(b, "appendonly yes", "appendfsync everysec")
	st, err := redis.Open(b.Context(), redis.Options{URL: s.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	body := []byte("CallUUID=5c1e7f2a-0b3d-4e6f-8a9b-1c2d3e4f5a6b&From=15550100001&To=15550109999" +
		"&RecordUrl=https%3A%2F%2Fbridge.example.net%2Ff%2Fd2c4.mp3&RecordingDuration=93&Event=Record")
	es := make([]adapter.Entry, b.N)
	for i := range es {
		id := fmt.Sprintf("bench-%d", i)
		es[i] = adapter.Entry{ID: id, CallID: id, Seq: 1, App: "bench", Dialect: translate.Plivo, Kind: "callback",
			Method: translate.POST, URL: "http://127.0.0.1:8080/cb", Body: body,
			BodyType: "application/x-www-form-urlencoded", Retry: translate.DefaultRetryPolicy()}
	}
	type mark struct {
		redis, self  time.Duration
		script, cmds int64 // µs redis-server spent in scripts, and in the commands they ran
	}
	now := func() mark {
		sc, cm := scriptTime(b, s)
		return mark{redisCPU(b, s), selfCPU(), sc, cm}
	}
	per := func(b *testing.B, from, to mark, phase string) {
		b.ReportMetric(float64((to.redis-from.redis).Microseconds())/float64(b.N), phase+"-redis-µs/entry")
		b.ReportMetric(float64((to.self-from.self).Microseconds())/float64(b.N), phase+"-go-µs/entry")
		// Lua's own share: the scripts' time less their commands'.
		b.ReportMetric(float64((to.script-from.script)-(to.cmds-from.cmds))/float64(b.N), phase+"-lua-µs/entry")
	}
	b.ResetTimer()
	m0 := now()
	for i := 0; i < b.N; i += 100 {
		if err := st.Enqueue(b.Context(), es[i:min(i+100, b.N)]...); err != nil {
			b.Fatal(err)
		}
	}
	m1 := now()
	claimed := make([]adapter.Entry, 0, b.N)
	for len(claimed) < b.N {
		got, err := st.Claim(b.Context(), "w", time.Now(), time.Minute, 12)
		if err != nil {
			b.Fatal(err)
		}
		claimed = append(claimed, got...)
	}
	m2 := now()
	ids := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for id := range ids {
				if err := st.Ack(b.Context(), id, "w"); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for _, e := range claimed {
		ids <- e.ID
	}
	close(ids)
	wg.Wait()
	m3 := now()
	b.StopTimer()
	per(b, m0, m1, "enqueue")
	per(b, m1, m2, "claim")
	per(b, m2, m3, "ack")
}

// scriptTime is the µs redis-server spent running scripts (their commands included) and
// running data commands (mostly the scripts' own), from INFO commandstats.
func scriptTime(b *testing.B, s *redistest.Server) (script, cmds int64) {
	st, err := s.CommandStats()
	if err != nil {
		b.Fatal(err)
	}
	return st.ScriptUsec, st.CmdUsec
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the CPU time (user and system) redis-server s has used.
func redisCPU(b *testing.B, s *redistest.Server) time.Duration {
	d, err := s.CPU()
	if err != nil {
		b.Fatal(err)
	}
	return d
}
