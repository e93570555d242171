package scanner

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/invsync/invsync/api"
)

// AppVersion is what the device says it runs, in its reports.
const AppVersion = "invsync-scanner"

// maxDeviceJSON is room kept in every upload for its "device" object (a
// few numbers and times, well under it).
const maxDeviceJSON = 256

// deviceJSON is the device's report about its queue (api.DeviceReport):
// the body of a heartbeat and the "device" object of an upload.
func (d *Device) deviceJSON(ctx context.Context) ([]byte, error) {
	c, err := d.counts(ctx)
	if err != nil {
		return nil, err
	}
	rep := api.DeviceReport{SentAt: api.FormatTime(d.cfg.Now()), Queued: c.queued, Rejected: c.rejected, AppVersion: AppVersion}
	if c.queued > 0 {
		at := api.FormatTime(c.oldest)
		rep.OldestQueuedAt = &at
	}
	return json.Marshal(rep)
}

// withDevice adds the device's report to an upload body; if the queue
// cannot be counted the upload goes without it.
func (d *Device) withDevice(ctx context.Context, body []byte) []byte {
	dev, err := d.deviceJSON(ctx)
	if err != nil || len(dev) > maxDeviceJSON || len(body) == 0 || body[len(body)-1] != '}' {
		return body
	}
	out := make([]byte, 0, len(body)+len(dev)+12)
	out = append(out, body[:len(body)-1]...)
	out = append(out, `,"device":`...)
	out = append(out, dev...)
	return append(out, '}')
}

// heartbeat tells the server the state of the queue. It is sent after
// every successful sync (so every SyncEvery while online); a failure is
// only logged: the next sync tries again, and an older server without the
// endpoint is no reason to stop syncing.
func (d *Device) heartbeat(ctx context.Context) {
	body, err := d.deviceJSON(ctx)
	if err == nil {
		_, _, err = d.call(ctx, http.MethodPost, "/v1/scanners/"+url.PathEscape(d.scannerID)+"/heartbeat", body)
	}
	if err != nil && ctx.Err() == nil {
		d.cfg.Logger.Debug("heartbeat not delivered", "err", err)
	}
}
