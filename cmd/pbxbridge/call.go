package main

import (
	"context"
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
	"syscall"
	"time"

	"github.com/pbxbridge/pbxbridge/adapter"
	"github.com/pbxbridge/pbxbridge/ari"
	"github.com/pbxbridge/pbxbridge/blob"
	"github.com/pbxbridge/pbxbridge/blob/external"
	"github.com/pbxbridge/pbxbridge/config"
	"github.com/pbxbridge/pbxbridge/httpapi"
	"github.com/pbxbridge/pbxbridge/media"
	"github.com/pbxbridge/pbxbridge/seal"
	"github.com/pbxbridge/pbxbridge/sipcall"
	"github.com/pbxbridge/pbxbridge/store/local"
	"github.com/pbxbridge/pbxbridge/translate"
	"github.com/pbxbridge/pbxbridge/tts"
	"github.com/pbxbridge/pbxbridge/webhook"
)

const callUsage = `usage: pbxbridge call --url URL [flags]

Places one real SIP call (SIPp) through Asterisk into an application and prints what
happened: each document fetched and the verbs understood, each verb with its outcome, every
request sent to the application with its parameters and the answer, and the recording's
URL and length. pbxbridge runs inside the command (the same engine as 'serve', an embedded
store in --data-dir, its own HTTP listener on 127.0.0.1 for the recordings and media);
'pbxbridge serve' must not be connected to the same Asterisk application meanwhile.

The application:
  --url URL          answer URL of the application (required unless --app)
  --dialect D        flexml (default) or plivo
  --method M         POST (default) or GET
  --status-url URL   status (hangup) callback URL
  --app NAME         use the application NAME of --config instead of --url
  --config FILE      a pbxbridge config: its Asterisk connection, containers, recording and
                     apps (auth tokens, signing secrets) are used. Default: the embedded
                     defaults (the project's test Asterisk on 127.0.0.1:8088)

The caller:
  --wav FILE         audio to send, a WAV file (any rate; sent as G.711 µ-law)
  --say TEXT         or speech to send, rendered with espeak-ng
                     (default: a short test message)
  --dtmf SCHEDULE    digits to press, as TIME:DIGITS,...: e.g. "3s:1,5.5s:#"
                     (times from the answer; each digit sounds 200 ms)
  --duration D       hang up D after the answer if the application has not (default 30s)
  --from N, --to N   caller and dialled numbers (default 15550100001, 15550100000)
  --sip HOST:PORT    the PBX's SIP address (default 127.0.0.1:5060)
  --sipp PATH        the sipp program (default sipp; Debian: apt-get install sip-tester)

Output:
  --json             print one JSON document (events, problems, exit status) for CI
  --wait D           after the call, wait up to D for callbacks to be delivered (default 30s)
  --data-dir DIR     keep the store and the recordings here (default: a new temporary
                     directory, kept and printed)
  --log-level L      pbxbridge's own log on stderr: debug, info, warn (default), error

Exit status:
  0  the call ran and the application behaved
  1  a verb or the call flow failed otherwise (see the trace)
  2  usage or configuration error
  3  the call did not connect (no Asterisk, SIPp missing or failing, the call not answered,
     or it never reached pbxbridge)
  4  a document was invalid (not XML, not the dialect, a bad attribute)
  5  a document could not be fetched (connection refused, timeout, a non-2xx answer)
  6  a callback was answered 4xx or 5xx, was unreachable, or was not delivered in --wait
  7  a recording failed (nothing stored)
When several problems happen, the status is that of the first.
`

// Exit statuses of 'pbxbridge call' (callUsage documents them).
const (
	callExitOK          = 0
	callExitFlow        = 1
	callExitUsage       = 2
	callExitNoCall      = 3
	callExitInvalidDoc  = 4
	callExitFetch       = 5
	callExitCallback    = 6
	callExitRecording   = 7
	defaultCallDuration = 30 * time.Second
)

// callFlags are the command's flags.
type callFlags struct {
	url, dialect, method, statusURL, app, config string
	wav, say, dtmf                               string
	duration, wait                               time.Duration
	from, to, sip, sipp                          string
	json                                         bool
	dataDir, logLevel                            string
}

func runCall(args []string, stdout, stderr io.Writer) int {
	var f callFlags
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.url, "url", "", "")
	fs.StringVar(&f.dialect, "dialect", "flexml", "")
	fs.StringVar(&f.method, "method", "POST", "")
	fs.StringVar(&f.statusURL, "status-url", "", "")
	fs.StringVar(&f.app, "app", "", "")
	fs.StringVar(&f.config, "config", "", "")
	fs.StringVar(&f.wav, "wav", "", "")
	fs.StringVar(&f.say, "say", "", "")
	fs.StringVar(&f.dtmf, "dtmf", "", "")
	fs.DurationVar(&f.duration, "duration", defaultCallDuration, "")
	fs.DurationVar(&f.wait, "wait", 30*time.Second, "")
	fs.StringVar(&f.from, "from", "15550100001", "")
	fs.StringVar(&f.to, "to", "15550100000", "")
	fs.StringVar(&f.sip, "sip", "127.0.0.1:5060", "")
	fs.StringVar(&f.sipp, "sipp", "sipp", "")
	fs.BoolVar(&f.json, "json", false, "")
	fs.StringVar(&f.dataDir, "data-dir", "", "")
	fs.StringVar(&f.logLevel, "log-level", "warn", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, callUsage)
			return 0
		}
		fmt.Fprintf(stderr, "pbxbridge call: %v\n\n%s", err, callUsage)
		return callExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pbxbridge call: unexpected argument %q\n\n%s", fs.Arg(0), callUsage)
		return callExitUsage
	}
	cfg, err := f.configure()
	if err != nil {
		fmt.Fprintf(stderr, "pbxbridge call: %v\n", err)
		return callExitUsage
	}
	digits, err := sipcall.ParseDTMF(f.dtmf)
	if err != nil {
		fmt.Fprintf(stderr, "pbxbridge call: --dtmf: %v\n", err)
		return callExitUsage
	}
	if f.duration <= 0 || f.wait < 0 {
		fmt.Fprintf(stderr, "pbxbridge call: --duration must be > 0 and --wait >= 0\n")
		return callExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ulaw, what, err := f.callerAudio(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "pbxbridge call: %v\n", err)
		return callExitUsage
	}
	tr := newCallTrace(stdout, f.json)
	log := newLogger(stderr, f.logLevel, cfg.LogFormat)
	return placeCall(ctx, cfg, f, ulaw, what, digits, tr, log)
}

// configure builds the configuration of the one call: the file's (or the defaults), with the
// application from the flags, the embedded store in the data directory, and the HTTP API on a
// free loopback port.
func (f *callFlags) configure() (*config.Config, error) {
	cfg := config.Default()
	if f.config != "" {
		var err error
		if cfg, err = config.Load(f.config); err != nil {
			return nil, err
		}
	}
	switch {
	case f.app != "" && f.url != "":
		return nil, errors.New("--app and --url: give one")
	case f.app != "":
		a, ok := cfg.App(f.app)
		if !ok {
			return nil, fmt.Errorf("--app %q: no such application in %s", f.app, orDefault(f.config, "the defaults"))
		}
		app := *a
		app.Numbers = []string{f.to}
		cfg.Apps = []config.App{app}
	case f.url != "":
		d, err := translate.ParseDialect(f.dialect)
		if err != nil {
			return nil, fmt.Errorf("--dialect: %w", err)
		}
		cfg.Apps = []config.App{{
			Name: "call", Dialect: d, URL: f.url, Method: strings.ToUpper(f.method),
			StatusURL: f.statusURL, StatusMethod: "POST", Numbers: []string{f.to},
			Container: cfg.Containers[0].SID, DocumentLimit: translate.DefaultMaxBytes,
		}}
	default:
		return nil, errors.New("--url (or --app with --config) is required")
	}
	cfg.DefaultApp = cfg.Apps[0].Name
	if len(cfg.Asterisk) == 0 {
		return nil, errors.New("pbxbridge call needs an Asterisk (the config has none)")
	}
	cfg.Asterisk = cfg.Asterisk[:1]
	cfg.FreeSWITCH = nil
	// One process, one call: the embedded store, never a shared Redis whose other instances
	// would take this call's callbacks.
	cfg.Store = config.Store{Prefix: cfg.Store.Prefix, RetryWindow: cfg.Store.RetryWindow}
	if f.dataDir == "" {
		dir, err := os.MkdirTemp("", "pbxbridge-call-")
		if err != nil {
			return nil, err
		}
		f.dataDir = dir
	}
	cfg.DataDir = f.dataDir
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cfg.Listen = ln.Addr().String()
	ln.Close()
	cfg.PublicURL = "http://" + cfg.Listen
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// defaultSay is what the caller says when neither --wav nor --say is given.
const defaultSay = "Hello. This is a test call from pbxbridge. Thank you."

// callerAudio is the µ-law audio the caller sends, and a description of it.
func (f *callFlags) callerAudio(ctx context.Context) ([]byte, string, error) {
	switch {
	case f.wav != "" && f.say != "":
		return nil, "", errors.New("--wav and --say: give one")
	case f.wav != "":
		b, err := os.ReadFile(f.wav)
		if err != nil {
			return nil, "", fmt.Errorf("--wav: %w", err)
		}
		ul, err := sipcall.ULawFromWAV(b)
		if err != nil {
			return nil, "", fmt.Errorf("--wav %s: %w", f.wav, err)
		}
		return ul, "WAV " + f.wav, nil
	}
	text := orDefault(f.say, defaultSay)
	sp, err := tts.NewEspeak()
	if err != nil {
		return nil, "", fmt.Errorf("--say needs espeak-ng (or give --wav): %w", err)
	}
	wav, err := sp.Speak(ctx, text, "", "")
	if err != nil {
		return nil, "", fmt.Errorf("--say: %w", err)
	}
	ul, err := sipcall.ULawFromWAV(wav)
	if err != nil {
		return nil, "", fmt.Errorf("--say: %w", err)
	}
	return ul, fmt.Sprintf("speech %q", text), nil
}

// callEngine is pbxbridge wired for one call: what serve wires, without HA, metrics or
// FreeSWITCH, and with the trace hooks.
type callEngine struct {
	st     *local.Store
	blobs  *blob.Dir
	client *webhook.Client
	worker *webhook.Worker
	http   *http.Server
	eng    *adapter.Engine
	pbx    *ari.PBX
}

func startCallEngine(cfg *config.Config, tr *callTrace, log *slog.Logger) (*callEngine, error) {
	ce := &callEngine{}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := local.Open(filepath.Join(cfg.DataDir, "store"), local.Options{})
	if err != nil {
		return nil, err
	}
	ce.st = st
	if ce.blobs, err = blob.OpenDir(filepath.Join(cfg.DataDir, "containers")); err != nil {
		ce.close()
		return nil, err
	}
	linkSecret, err := loadKey(cfg.LinkSecret, filepath.Join(cfg.DataDir, "link.key"))
	if err != nil {
		ce.close()
		return nil, fmt.Errorf("link secret: %w", err)
	}
	outboxKey, err := loadKey(cfg.Outbox.Key, filepath.Join(cfg.DataDir, "outbox.key"))
	if err != nil {
		ce.close()
		return nil, fmt.Errorf("outbox key: %w", err)
	}
	box, err := seal.New(outboxKey)
	if err != nil {
		ce.close()
		return nil, err
	}
	ce.client = webhook.NewClient(webhook.Options{Version: version, Secrets: appSecrets{cfg}, Open: box.Open,
		Logger: log.With("component", "webhook"), Trace: tr.exchange})
	ce.worker, err = webhook.NewWorker(webhook.WorkerOptions{Outbox: st, Client: ce.client,
		Workers: cfg.Outbox.Workers, Lease: cfg.Outbox.Lease.D(), Poll: 50 * time.Millisecond,
		Logger: log.With("component", "outbox")})
	if err != nil {
		ce.close()
		return nil, err
	}
	ce.worker.Start()
	mediaStore := httpapi.NewMediaStore(cfg.PublicURL, 256<<20)
	var speaker adapter.Speaker
	if sp, err := tts.NewEspeak(); err != nil {
		log.Warn("text to speech unavailable: Say and Speak will be skipped", "err", err)
	} else {
		speaker = sp
	}
	ce.pbx = ari.New(cfg.Asterisk[0], log.With("pbx", cfg.Asterisk[0].Name))
	api := httpapi.New(httpapi.Deps{
		Store: st, Outbox: st, Wake: ce.worker.Wake, Blob: ce.blobs, Media: mediaStore, PublicURL: cfg.PublicURL,
		LinkSecret: linkSecret, APIToken: cfg.APIToken.Reveal(), LinkTTL: cfg.LinkTTL.D(),
		Log: log.With("component", "http"), Containers: apiContainers(cfg.Containers),
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		ce.close()
		return nil, fmt.Errorf("listen: %w", err)
	}
	ce.http = &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ce.http.Serve(ln) }()
	ce.eng, err = adapter.New(adapter.Deps{Open: box.Open,
		Config: cfg, Store: st, Outbox: st, Blob: ce.blobs, Sender: ce.client,
		Media: media.New(mediaStore, speaker, media.Options{}), Links: api,
		Log: log, Wake: ce.worker.Wake, Seal: box.Seal, Trace: tr,
		Transcriber: newTranscriber(cfg.Transcription, log.With("component", "transcribe")), Jobs: st,
		External: external.New(cfg.ExternalStorage, nil),
	})
	if err != nil {
		ce.close()
		return nil, err
	}
	return ce, nil
}

// close stops what was started, in reverse order. The worker's in-flight attempts get a few
// seconds.
func (ce *callEngine) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ce.worker != nil {
		_ = ce.worker.Stop(ctx)
	}
	if ce.http != nil {
		_ = ce.http.Shutdown(ctx)
	}
	if ce.client != nil {
		ce.client.Close()
	}
	if ce.blobs != nil {
		ce.blobs.Close()
	}
	if ce.st != nil {
		ce.st.Close()
	}
}

// placeCall runs the engine, places the call, waits for its end and its callbacks, and
// reports. It returns the exit status.
func placeCall(ctx context.Context, cfg *config.Config, f callFlags, ulaw []byte, what string, digits []sipcall.Digit, tr *callTrace, log *slog.Logger) int {
	app := cfg.Apps[0]
	tr.header(callHeader{App: app.Name, Dialect: string(app.Dialect), URL: redactedURL(app.URL), To: f.to, From: f.from,
		PBX: f.sip, ARI: cfg.Asterisk[0].URL, Audio: what, AudioLength: time.Duration(len(ulaw)) * time.Second / 8000,
		DTMF: f.dtmf, DataDir: cfg.DataDir})
	ce, err := startCallEngine(cfg, tr, log)
	if err != nil {
		tr.problem(callExitNoCall, "pbxbridge could not start: %v", err)
		return tr.finish(callFinal{})
	}
	defer ce.close()

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	handled := make(chan struct{})
	got := make(chan struct{}, 1)
	serveDone := make(chan error, 1)
	go func() {
		serveDone <- ce.pbx.Serve(runCtx, func(ctx context.Context, c adapter.Call) {
			select {
			case got <- struct{}{}:
			default:
			}
			ce.eng.Handle(ctx, c)
			select {
			case <-handled:
			default:
				close(handled)
			}
		})
	}()
	jobsDone := make(chan struct{})
	go func() { defer close(jobsDone); _ = ce.eng.RunJobs(runCtx) }()
	defer func() { cancelRun(); <-jobsDone }()

	if err := waitReady(ctx, ce.pbx, cfg.Asterisk[0].ConnectTimeout.D()+2*time.Second, serveDone); err != nil {
		tr.problem(callExitNoCall, "Asterisk ARI at %s: %v", cfg.Asterisk[0].URL, err)
		return tr.finish(callFinal{})
	}

	dir, err := os.MkdirTemp(cfg.DataDir, "sipp-")
	if err != nil {
		tr.problem(callExitNoCall, "%v", err)
		return tr.finish(callFinal{})
	}
	res, callErr := sipcall.Run(ctx, sipcall.Call{SIPp: f.sipp, PBX: f.sip, To: f.to, From: f.from,
		ULaw: ulaw, Digits: digits, Hold: f.duration, Dir: dir})
	final := callFinal{Answered: res.Answered, FarEnd: res.FarEnd, Sent: res.Stream.Audio}
	reached := false
	select {
	case <-got:
		reached = true
	default:
	}
	switch {
	case callErr != nil && !reached:
		tr.problem(callExitNoCall, "%v", callErr)
		if res.Output != "" {
			tr.note("SIPp said:\n%s", res.Output)
		}
	case callErr != nil:
		tr.problem(callExitNoCall, "the call failed after it reached pbxbridge: %v", callErr)
	case !reached:
		tr.problem(callExitNoCall, "the call was answered but never reached pbxbridge: does the dialplan send %s to Stasis(%s)?",
			f.to, cfg.Asterisk[0].Application)
	}
	if reached {
		select {
		case <-handled:
		case <-time.After(30 * time.Second):
			tr.problem(callExitFlow, "the call did not end in pbxbridge 30 s after SIPp hung up")
		case <-ctx.Done():
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := ce.eng.Wait(wctx); err != nil {
			tr.problem(callExitRecording, "background recordings did not finish: %v", err)
		}
		cancel()
		pending := waitOutbox(ctx, ce.st, f.wait)
		if pending > 0 {
			tr.problem(callExitCallback, "%d callback(s) still undelivered after --wait %s", pending, f.wait)
		}
		if dead, err := ce.st.ListDead(context.WithoutCancel(ctx), 0); err == nil {
			final.Dead = len(dead)
		}
	}
	final.Recordings = tr.recordings(func(sid string) (adapter.File, bool) {
		fl, err := ce.st.GetFile(context.WithoutCancel(ctx), sid)
		return fl, err == nil
	}, filepath.Join(cfg.DataDir, "containers"))
	return tr.finish(final)
}

// waitReady waits until the PBX connection is up and the Stasis application registered.
func waitReady(ctx context.Context, p adapter.PBX, limit time.Duration, serveDone <-chan error) error {
	deadline := time.Now().Add(limit)
	for {
		err := p.Ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case serr := <-serveDone:
			if serr == nil {
				serr = err
			}
			return serr
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitOutbox waits until no callback is queued, or limit passes; it returns how many are
// left.
func waitOutbox(ctx context.Context, ob adapter.Outbox, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	for {
		n, err := ob.Pending(ctx)
		if err == nil && n == 0 {
			return 0
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}
