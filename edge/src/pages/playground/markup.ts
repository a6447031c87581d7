// The playground's body. Element ids are what the scripts (and the browser test) address.
export const MARKUP = `<header>
  <h1>cascade-edge</h1>
  <p class="sub">Würstchen / Stable Cascade text-to-image &middot; <a href="/docs">API docs</a> &middot;
    <a href="/v1/models">models</a></p>
</header>
<div id="demo-banner" class="banner" role="alert" hidden></div>
<p id="load-error" class="banner error" role="alert" hidden></p>
<main>
  <form id="form" autocomplete="off">
    <label>Prompt
      <textarea id="prompt" name="prompt" required maxlength="2000" rows="3"
        placeholder="an astronaut riding a horse, watercolor"></textarea></label>
    <label>Negative prompt
      <textarea id="negative_prompt" name="negative_prompt" maxlength="2000" rows="2"
        placeholder="optional: what to steer away from"></textarea></label>
    <fieldset id="image-inputs" hidden><legend>Image input</legend>
      <label>Mode <select id="mode"></select></label>
      <div id="image-area" class="drop" hidden>
        <p id="drop-hint">Drop an image here, or <label class="file">choose one
          <input id="image-file" type="file" accept="image/png,image/jpeg,image/webp"></label></p>
        <div id="canvas-wrap" hidden><img id="source-img" alt="the input image"><canvas id="mask-canvas"
          aria-label="paint what to repaint"></canvas></div>
      </div>
      <label id="strength-row" hidden>Strength (how far the image is noised)
        <span class="with-value"><input id="strength" type="range" min="0.05" max="1" step="0.05" value="0.6">
          <output id="strength-value">0.6</output></span></label>
      <div id="brush-row" class="with-button" hidden>
        <label>Brush <input id="brush" type="range" min="4" max="160" value="40"></label>
        <button id="clear-mask" type="button">Clear mask</button></div>
      <label id="outpaint-row" hidden>The image's share of the canvas
        <input id="outpaint-scale" type="range" min="0.3" max="0.9" step="0.05" value="0.6"></label>
      <div id="canny-row" class="grid" hidden>
        <label class="check"><input id="preprocessed" type="checkbox"> the image is an edge map</label>
        <label>Control strength <input id="control-strength" type="number" min="0" max="2" step="0.1"
          value="1"></label></div>
    </fieldset>
    <div class="grid">
      <label>Model <select id="model" name="model"></select></label>
      <label>Size <select id="size" name="size"></select></label>
      <label>Images <select id="n" name="n"><option>1</option></select></label>
      <label>Format <select id="output_format" name="output_format">
        <option>png</option><option>webp</option><option>jpeg</option></select></label>
      <label class="span2">Seed
        <span class="with-button">
          <input id="seed" name="seed" type="number" min="0" max="4294967295" step="1"
            placeholder="derived from the request">
          <button id="random-seed" type="button" title="pick a random seed">random</button>
        </span></label>
      <label class="span2 check"><input id="tiling" name="tiling" type="checkbox">
        Seamless tiling <small id="tiling-note"></small></label>
    </div>
    <div class="grid">
      <fieldset><legend>Prior (Stage C)</legend>
        <label>Steps <input id="prior_steps" name="prior_steps" type="number" min="1" max="60" step="1"></label>
        <label>Guidance <input id="prior_guidance" name="prior_guidance" type="number" min="0" max="20"
          step="0.1"></label>
      </fieldset>
      <fieldset><legend>Decoder (Stage B)</legend>
        <label>Steps <input id="decoder_steps" name="decoder_steps" type="number" min="1" max="30" step="1"></label>
        <label>Guidance <input id="decoder_guidance" name="decoder_guidance" type="number" min="0" max="10"
          step="0.1"></label>
      </fieldset>
    </div>
    <p id="license" class="note"></p>
    <div class="actions">
      <button id="generate" type="submit">Generate</button>
      <button id="cancel" type="button" disabled>Cancel</button>
    </div>
  </form>
  <section id="run" aria-live="polite">
    <p id="status" data-state="idle">Write a prompt and press Generate.</p>
    <div id="stages"></div>
    <figure id="live" hidden><img id="preview" alt="live preview of Stage C"><figcaption id="preview-step">
      </figcaption></figure>
    <div id="result"></div>
  </section>
</main>
<section id="history">
  <div class="history-head">
    <h2>Recent <small>in this browser</small></h2>
    <button id="clear-recent" type="button">Clear</button>
  </div>
  <div id="recent"><p class="note">Nothing yet.</p></div>
</section>`
