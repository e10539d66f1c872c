package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/ari"
	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/blob/external"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/esl"
	"github.com/pbxbridge/pbxbridge/httpapi"
	"github.com/pbxbridge/pbxbridge/journal"
	"github.com/pbxbridge/pbxbridge/media"
	"github.com/pbxbridge/pbxbridge/metrics"
	"github.com/pbxbridge/pbxbridge/seal"
	"github.com/pbxbridge/pbxbridge/store/redis"
	"github.com/pbxbridge/pbxbridge/tts"
	"github.com/pbxbridge/pbxbridge/webhook"
)

const serveUsage = `usage: pbxbridge serve [--config FILE]

Runs pbxbridge beside Asterisk: takes the calls that Asterisk hands to its Stasis
application, runs each call's FlexML or Plivo application, stores recordings and delivers
callbacks. Without --config it uses the embedded defaults (config.Default: a local Asterisk
with the project's test credentials). PBXBRIDGE_CONFIG names the file too.
`

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", os.Getenv("PBXBRIDGE_CONFIG"), "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, serveUsage)
			return 0
		}
		fmt.Fprintf(stderr, "pbxbridge serve: %v\n\n%s", err, serveUsage)
		return 2
	}
	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			fmt.Fprintf(stderr, "pbxbridge serve: %v\n", err)
			return 2
		}
	}
	log := newLogger(stderr, cfg.LogLevel)
	redis.SetLogger(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("pbxbridge stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// appSecrets gives the webhook client each app's credentials, by name.
type appSecrets struct{ cfg *config.Config }

func (s appSecrets) For(app string) (string, string) {
	a, ok := s.cfg.App(app)
	if !ok {
		return "", ""
	}
	return a.AuthToken.Reveal(), a.SigningSecret.Reveal()
}

// serve wires pbxbridge together and runs it until ctx is done, then drains: the PBX
// connections stop taking calls, background recordings finish and are stored, queued
// callbacks get their in-flight attempt, and the store is closed last.
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	raw, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer raw.Close()
	met := metrics.NewSet()
	st := met.TimeStore(raw) // every store operation timed, for /metrics
	met.WatchOutbox(st, 2*time.Second, time.Now)
	blobs, err := blob.OpenDir(filepath.Join(cfg.DataDir, "containers"))
	if err != nil {
		return err
	}
	defer blobs.Close()
	linkSecret, err := loadKey(cfg.LinkSecret, filepath.Join(cfg.DataDir, "link.key"))
	if err != nil {
		return fmt.Errorf("link secret: %w", err)
	}
	outboxKey, err := loadKey(cfg.Outbox.Key, filepath.Join(cfg.DataDir, "outbox.key"))
	if err != nil {
		return fmt.Errorf("outbox key: %w", err)
	}
	box, err := seal.New(outboxKey)
	if err != nil {
		return err
	}

	jr := journal.New(cfg.Dashboard.JournalSize) // the dashboard's record of requests and call steps
	client := webhook.NewClient(webhook.Options{Version: version, Secrets: appSecrets{cfg}, Open: box.Open,
		Logger: log.With("component", "webhook"), Trace: jr.Exchange, TraceLazy: true})
	defer client.Close()
	worker, err := webhook.NewWorker(webhook.WorkerOptions{
		Outbox: st, Client: client, Workers: cfg.Outbox.Workers, Lease: cfg.Outbox.Lease.D(),
		Logger: log.With("component", "outbox"), Observer: met,
	})
	if err != nil {
		return err
	}
	worker.Start()

	mediaStore := httpapi.NewMediaStore(cfg.PublicURL, 256<<20)
	var speaker adapter.Speaker
	if sp, err := tts.NewEspeak(); err != nil {
		log.Warn("text to speech unavailable: Say and Speak will be skipped", "err", err)
	} else {
		speaker = sp
	}
	med := media.New(mediaStore, speaker, media.Options{})

	var pbxs []adapter.PBX
	for _, a := range cfg.Asterisk {
		pbxs = append(pbxs, reservable(cfg, func() adapter.PBX { return ari.New(a, log.With("pbx", a.Name)) }))
	}
	var uploads []httpapi.Upload
	for _, f := range cfg.FreeSWITCH {
		fs := esl.New(f, log.With("pbx", f.Name)) // one for every period of ownership: it serves again
		pbxs = append(pbxs, reservable(cfg, func() adapter.PBX { return fs }))
		if f.RecordTransfer == config.RecordHTTP {
			uploads = append(uploads, httpapi.Upload{PBX: f.Name, Dir: f.RecordDir, Token: f.UploadToken, MaxBytes: f.UploadMaxBytes})
		}
	}
	api := httpapi.New(httpapi.Deps{
		Store: st, Outbox: st, Wake: worker.Wake, Journal: jr, Blob: blobs, Media: mediaStore, PublicURL: cfg.PublicURL,
		LinkSecret: linkSecret, APIToken: cfg.APIToken.Reveal(), LinkTTL: cfg.LinkTTL.D(),
		Checks: readyChecks(st, pbxs), Metrics: met, MetricsPublic: cfg.MetricsPublic,
		Log:        log.With("component", "http"),
		Uploads:    uploads,
		Containers: apiContainers(cfg.Containers),
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	httpSrv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()

	eng, err := adapter.New(adapter.Deps{Open: box.Open, // reconcile unseals the callbacks it sends
		Config: cfg, Store: st, Outbox: st, Blob: blobs, Sender: client, Media: med, Links: api,
		Log: log, Wake: worker.Wake, Seal: box.Seal, Observe: met, Trace: jr,
		Transcriber: newTranscriber(cfg.Transcription, log.With("component", "transcribe")), Jobs: st,
		External: external.New(cfg.ExternalStorage, nil),
	})
	if err != nil {
		return err
	}
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go eng.SweepLifecycle(runCtx, time.Second)
	jobsDone := make(chan struct{})
	go func() { defer close(jobsDone); _ = eng.RunJobs(runCtx) }()

	token := leaseToken(cfg)
	log.Info("pbxbridge serving", "version", version, "instance", token, "listen", cfg.Listen, "public_url", cfg.PublicURL,
		"apps", len(cfg.Apps), "asterisk", len(cfg.Asterisk), "freeswitch", len(cfg.FreeSWITCH))
	var wg sync.WaitGroup
	errs := make(chan error, len(pbxs))
	for _, p := range pbxs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runPBX(runCtx, cfg, st, p, eng, token, log); err != nil && runCtx.Err() == nil {
				errs <- fmt.Errorf("%s: %w", p.Name(), err)
				cancelRun()
			}
		}()
	}
	<-runCtx.Done()
	log.Info("pbxbridge draining")
	wg.Wait()
	<-jobsDone // running transcriptions stop and stay queued for the next start

	drain, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := eng.Wait(drain); err != nil {
		log.Warn("background recordings did not finish", "err", err)
	}
	if err := worker.Stop(drain); err != nil {
		log.Warn("outbox worker stop", "err", err)
	}
	_ = httpSrv.Shutdown(drain)
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// readyChecks are /readyz's checks: the store answers a ping, and each PBX is connected.
func readyChecks(st *metrics.TimedStore, pbxs []adapter.PBX) []httpapi.Check {
	checks := []httpapi.Check{{Name: "store", Check: st.Ping}}
	for _, p := range pbxs {
		checks = append(checks, httpapi.Check{Name: "pbx " + p.Name(), Check: func(context.Context) error { return p.Ready() }})
	}
	return checks
}

// loadKey returns the configured key, or one generated at first start and kept in path, so
// that links and sealed values stay valid across restarts.
func loadKey(configured config.Secret, path string) ([]byte, error) {
	if s := configured.Reveal(); s != "" {
		return []byte(s), nil
	}
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(k[:])
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, err
	}
	return []byte(secret), nil
}

// apiContainers are the configured containers as the files API lists them.
func apiContainers(cs []config.Container) []httpapi.Container {
	out := make([]httpapi.Container, len(cs))
	for i, c := range cs {
		out[i] = httpapi.Container{SID: c.SID, QuotaBytes: c.QuotaBytes}
	}
	return out
}
