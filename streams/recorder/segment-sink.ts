// The one place a finished segment enters the system, whether the recorder saw it finish or
// reconciliation found it after a crash: index it, detect a gap to the camera's previous
// segment, and tell the world ('segment', plus 'event' for corrupt segments and gaps).
import { EventEmitter } from 'node:events';
import type { CameraEvent, SegmentInfo } from '../types.js';
import type { IndexedSegment, SegmentDraft, SegmentIndex } from '../index/segment-index.js';
import type { ProbeResult } from '../ffmpeg/probe.js';

export interface SegmentSinkEvents {
  segment: [SegmentInfo];
  event: [CameraEvent];
}

export class SegmentSink extends EventEmitter<SegmentSinkEvents> {
  constructor(
    readonly index: SegmentIndex,
    private readonly gapSeconds: number,
  ) {
    super();
  }

  /** Indexes `draft`; returns the stored segment (the existing one when already indexed). */
  accept(draft: SegmentDraft, probe?: ProbeResult): IndexedSegment {
    const previous = this.index.previous(draft.camera, draft.start);
    const { segment, created } = this.index.insert(draft);
    if (!created) return segment;
    if (segment.status === 'corrupt') {
      this.emit('event', {
        type: 'segment-corrupt',
        camera: segment.camera,
        message: `segment ${segment.path} of camera ${segment.camera} is not playable`,
        detail: { path: segment.path, id: segment.id, error: probe?.error ?? 'unknown', recovered: segment.recovered },
      });
    }
    if (previous) {
      const gap = (Date.parse(segment.start) - Date.parse(previous.end)) / 1000;
      if (gap > this.gapSeconds && this.index.insertGap(segment.camera, previous.end, segment.start, gap)) {
        this.emit('event', {
          type: 'recording-gap',
          camera: segment.camera,
          message: `camera ${segment.camera} has no recording for ${gap.toFixed(1)} s`,
          detail: { from: previous.end, to: segment.start, seconds: gap },
        });
      }
    }
    const { queued: _q, uploaded: _u, inspected: _i, ...info } = segment;
    this.emit('segment', info);
    return segment;
  }
}
