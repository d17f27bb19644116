"""Window, Dear ImGui and OpenGL helpers for the visualizer (glfw + imgui-bundle + PyOpenGL core profile)."""
