// The playground's CSS: a two-column layout (form | run) that stacks on narrow screens, light and dark.
export const STYLES = `
:root { color-scheme: light dark; --fg: #1d2026; --muted: #5d6470; --bg: #fff; --panel: #f4f5f7; --line: #d6d9de;
  --accent: #2f6fde; --ok: #1f8a4c; --bad: #c03a2b; --warn-bg: #fff4d6; --warn-fg: #6b4b00; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e8eb; --muted: #9aa1ab; --bg: #15171b; --panel: #1f2227; --line: #363a42;
    --accent: #6b9cf0; --ok: #46b97a; --bad: #ef6b5b; --warn-bg: #3a2f12; --warn-fg: #f3d38a; }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto;
  max-width: 1200px; padding: 1rem 1.25rem 3rem; }
h1 { margin: 0; font-size: 1.6rem; }
h2 { font-size: 1.1rem; margin: 0; }
a { color: var(--accent); }
.sub, .note, small { color: var(--muted); }
.sub { margin: .2rem 0 1rem; }
.banner { border-radius: 8px; padding: .7rem 1rem; margin: 0 0 1rem; background: var(--warn-bg);
  color: var(--warn-fg); }
.banner.error { background: none; border: 1px solid var(--bad); color: var(--bad); }
main { display: grid; grid-template-columns: minmax(300px, 5fr) 6fr; gap: 1.5rem; align-items: start; }
@media (max-width: 820px) { main { grid-template-columns: 1fr; } }
form { display: flex; flex-direction: column; gap: .7rem; }
label { display: flex; flex-direction: column; gap: .2rem; font-size: .85rem; color: var(--muted); }
textarea, input, select, button { font: inherit; color: var(--fg); background: var(--bg);
  border: 1px solid var(--line); border-radius: 6px; padding: .4rem .5rem; }
textarea { resize: vertical; width: 100%; }
.grid { display: grid; grid-template-columns: repeat(2, 1fr); gap: .6rem; }
.span2 { grid-column: span 2; }
.check { flex-direction: row; align-items: center; gap: .5rem; color: var(--fg); }
.check input { margin: 0; }
.with-button { display: flex; gap: .4rem; }
.with-button input { flex: 1; min-width: 0; }
fieldset { border: 1px solid var(--line); border-radius: 8px; margin: 0; padding: .4rem .7rem .7rem;
  display: flex; flex-direction: column; gap: .4rem; }
legend { font-size: .85rem; padding: 0 .3rem; }
.actions { display: flex; gap: .6rem; }
button { cursor: pointer; }
button:disabled { cursor: default; opacity: .5; }
#generate { background: var(--accent); border-color: var(--accent); color: #fff; padding: .5rem 1.4rem; }
#status { margin: 0 0 .6rem; min-height: 1.4em; }
#status[data-state="succeeded"] { color: var(--ok); }
#status[data-state="failed"], #status[data-state="canceled"] { color: var(--bad); }
#stages { display: flex; flex-direction: column; gap: .35rem; margin-bottom: 1rem; }
.stage { display: grid; grid-template-columns: 11rem 1fr 6.5rem; gap: .6rem; align-items: center;
  font-size: .85rem; }
.stage progress { width: 100%; height: .8rem; accent-color: var(--accent); }
.stage.done progress { accent-color: var(--ok); }
#stages[data-state="canceled"] .stage:not(.done) progress,
#stages[data-state="failed"] .stage:not(.done) progress { accent-color: var(--bad); }
.stage output { text-align: right; font-variant-numeric: tabular-nums; color: var(--muted); }
#result { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); }
figure { margin: 0; background: var(--panel); border-radius: 10px; padding: .7rem; }
figure img { display: block; width: 100%; height: auto; border-radius: 6px; background: var(--line); }
figcaption { margin-top: .6rem; font-size: .85rem; }
figcaption .prompt { font-size: .95rem; margin: 0 0 .4rem; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .8rem; margin: 0 0 .5rem; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.fig-actions { display: flex; gap: .8rem; align-items: center; }
#image-inputs .drop { border: 2px dashed var(--line); border-radius: 8px; padding: .6rem; text-align: center;
  font-size: .85rem; color: var(--muted); }
#image-inputs .drop.over { border-color: var(--accent); }
#image-inputs .file { display: inline; color: var(--accent); cursor: pointer; }
#image-inputs .file input { display: none; }
#canvas-wrap { position: relative; margin-top: .5rem; }
#canvas-wrap img, #mask-canvas { display: block; width: 100%; height: auto; border-radius: 6px; }
#mask-canvas { position: absolute; inset: 0; height: 100%; opacity: .5; cursor: crosshair; touch-action: none; }
.with-value { display: flex; gap: .5rem; align-items: center; }
.with-value input { flex: 1; }
label.check { flex-direction: row; align-items: center; gap: .4rem; }
#live { max-width: 320px; margin-bottom: 1rem; }
#live img { image-rendering: pixelated; }
#history { margin-top: 2rem; }
.history-head { display: flex; justify-content: space-between; align-items: center; margin-bottom: .6rem; }
#recent { display: grid; grid-template-columns: repeat(auto-fill, minmax(110px, 1fr)); gap: .5rem; }
#recent button { padding: 0; border-radius: 8px; overflow: hidden; aspect-ratio: 1; }
#recent img { width: 100%; height: 100%; object-fit: cover; display: block; }
`
