package worker

import (
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"github.com/homeward/homeward/codec"
)

// foreignSignals drops, before the workflow sees it, a signal that Homeward's key ring did not
// encrypt: one typed in the Temporal UI or CLI (`temporal workflow signal --name medical-result
// --input '{...}'`), sent by a client without the ring, or sent with no input at all. The codec
// refuses such payloads anyway (codec.Decode), but the SDK would hand the signal to the workflow's
// channel first and fail only when the workflow reads it: a case reading a partner's signal in a
// selector would then block inside that read until the next genuine one, and stop hearing the
// other partner meanwhile. Dropped here, the forged signal stays in the history (the server took
// it) and the case never reads it. The decision depends only on the history and the key ring, so
// a replay decides the same.
type foreignSignals struct {
	interceptor.WorkerInterceptorBase
	codec *codec.Codec
}

func (f *foreignSignals) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	i := &foreignSignalsInbound{codec: f.codec}
	i.Next = next
	return i
}

type foreignSignalsInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	codec *codec.Codec
}

func (i *foreignSignalsInbound) HandleSignal(ctx workflow.Context, in *interceptor.HandleSignalInput) error {
	ps := in.Arg.GetPayloads()
	if len(ps) == 0 {
		workflow.GetLogger(ctx).Warn("signal without input dropped: Homeward always sends one", "signal", in.SignalName)
		return nil
	}
	if _, err := i.codec.Decode(ps); err != nil {
		workflow.GetLogger(ctx).Warn("signal not encrypted by Homeward dropped (typed in the Temporal UI or CLI?)",
			"signal", in.SignalName, "error", err.Error())
		return nil
	}
	return i.Next.HandleSignal(ctx, in)
}
