"use client";
/** The display options shared by every chart on a page: x axis, smoothing, log scale, band. */
import type { XAxisKind } from "./Chart";

export interface ChartSettings {
  xAxis: XAxisKind;
  smoothing: number;
  logY: boolean;
  band: boolean;
}

export const DEFAULT_SETTINGS: ChartSettings = { xAxis: "step", smoothing: 0.6, logY: false, band: true };

export const X_AXIS_ENUM: Record<XAxisKind, string> = {
  step: "STEP",
  wall_time: "WALL_TIME",
  relative_time: "RELATIVE_TIME",
};

export function ChartControls({
  value,
  onChange,
}: {
  value: ChartSettings;
  onChange: (v: ChartSettings) => void;
}) {
  return (
    <fieldset className="toolbar">
      <legend className="sr-only">Chart options</legend>
      <label className="inline">
        x axis
        <select
          value={value.xAxis}
          onChange={(e) => onChange({ ...value, xAxis: e.target.value as XAxisKind })}
        >
          <option value="step">step</option>
          <option value="relative_time">relative time</option>
          <option value="wall_time">wall time</option>
        </select>
      </label>
      <label className="inline">
        smoothing
        <input
          type="range"
          min={0}
          max={0.99}
          step={0.01}
          value={value.smoothing}
          onChange={(e) => onChange({ ...value, smoothing: Number(e.target.value) })}
          aria-valuetext={value.smoothing.toFixed(2)}
        />
        <span className="mono" style={{ width: 32 }}>
          {value.smoothing.toFixed(2)}
        </span>
      </label>
      <label className="inline">
        <input
          type="checkbox"
          checked={value.logY}
          onChange={(e) => onChange({ ...value, logY: e.target.checked })}
        />
        log y
      </label>
      <label
        className="inline"
        title="Shade the min-max range of each downsampled bucket, so spikes stay visible"
      >
        <input
          type="checkbox"
          checked={value.band}
          onChange={(e) => onChange({ ...value, band: e.target.checked })}
        />
        min/max band
      </label>
    </fieldset>
  );
}
