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
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

const serveUsage = `usage: pbxbridge serve [--config FILE] [--log-format text|json]

Runs pbxbridge beside Asterisk: takes the calls that Asterisk hands to its Stasis
application, runs each call's FlexML or Plivo application, stores recordings and delivers
callbacks. Without --config it uses the embedded defaults (config.Default: a local Asterisk
with the project's test credentials). PBXBRIDGE_CONFIG names the file too. --log-format
overrides the configuration's log_format.

SIGTERM or SIGINT drains: no new calls, the calls in progress go on for up to
shutdown.drain_timeout, queued callbacks are delivered for up to shutdown.flush_timeout,
then it exits 0. A second signal exits at once with status 1.
`

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", os.Getenv("PBXBRIDGE_CONFIG"), "")
	logFormat := fs.String("log-format", "", "")
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
	if *logFormat != "" {
		if *logFormat != config.LogText && *logFormat != config.LogJSON {
			fmt.Fprintf(stderr, "pbxbridge serve: --log-format: must be text or json, got %q\n", *logFormat)
			return 2
		}
		cfg.LogFormat = *logFormat
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	redis.SetLogger(log)
	ctx, stop := stopOnSignal(log, func() { os.Exit(1) })
	defer stop()
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("pbxbridge stopped", "err", err)
		return 1
	}
	return 0
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

	var draining atomic.Bool // /readyz fails from the signal on
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
		Checks: append([]httpapi.Check{drainCheck(&draining)}, readyChecks(st, pbxs)...), Metrics: met, MetricsPublic: cfg.MetricsPublic,
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
	// runCtx outlives the signal (ctx): the PBXs keep serving the calls in progress while
	// they drain; it ends once the drain is over.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
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
	_ = sdNotify("READY=1\nSTATUS=serving")
	select {
	case <-ctx.Done(): // SIGTERM or SIGINT
	case <-runCtx.Done(): // a PBX failed for good: stop the same way
	}
	d := drainer{cfg: cfg, log: log, eng: eng, pbxs: pbxs, worker: worker, outbox: st, draining: &draining, stopWorker: worker.Stop}
	d.calls()
	cancelRun()
	wg.Wait()  // the PBX connections are closed, HA leases released
	<-jobsDone // running transcriptions stop and stay queued for the next start
	d.background()
	d.flush()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(sctx)
	d.done()
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
